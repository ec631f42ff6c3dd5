package deployer

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/compose-spec/compose-go/v2/types"
)

// ConfigHash is Compose's own per-service config hash (docker/compose v2.40.3, pkg/compose/hash.go
// ServiceHash): the service without build, pull policy, scale, replicas, depends_on and profiles, marshalled
// to JSON by the compose-go release that Compose links (v2.9.1), then SHA-256. The same service hashes the
// same whichever tool made the container, so `docker compose up` keeps what `m2mctl up` made and back.
//
// This module links a newer compose-go whose ServiceConfig has another field order (it embeds ContainerSpec
// and WorkloadSpec), so the service is copied into composeService, which has v2.9.1's fields in v2.9.1's
// order with v2.9.1's JSON names; the nested types marshal the same in both releases except where noted.
// What Compose hashes is the project it loaded from the emitted YAML, so the copy is the service as v2.9.1
// reads that YAML back (see volumesAsCompose).
func ConfigHash(s types.ServiceConfig) (string, error) {
	b, err := composeServiceJSON(s)
	if err != nil {
		return "", fmt.Errorf("hash service %s: %w", s.Name, err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// composeServiceJSON is the JSON that Compose v2.40.3 hashes for s.
func composeServiceJSON(s types.ServiceConfig) ([]byte, error) {
	var deploy *types.DeployConfig
	if s.Deploy != nil {
		d := *s.Deploy
		d.Replicas = nil
		deploy = &d
	}
	return json.Marshal(composeService{
		Annotations: s.Annotations, Attach: s.Attach, Develop: s.Develop, BlkioConfig: s.BlkioConfig,
		CapAdd: s.CapAdd, CapDrop: s.CapDrop, CgroupParent: s.CgroupParent, Cgroup: s.Cgroup,
		CPUCount: s.CPUCount, CPUPercent: s.CPUPercent, CPUPeriod: s.CPUPeriod, CPUQuota: s.CPUQuota,
		CPURTPeriod: s.CPURTPeriod, CPURTRuntime: s.CPURTRuntime, CPUS: s.CPUS, CPUSet: s.CPUSet, CPUShares: s.CPUShares,
		Command: s.Command, Configs: s.Configs, ContainerName: s.ContainerName, CredentialSpec: s.CredentialSpec,
		Deploy: deploy, DeviceCgroupRules: s.DeviceCgroupRules, Devices: s.Devices, DNS: s.DNS, DNSOpts: s.DNSOpts,
		DNSSearch: s.DNSSearch, Dockerfile: s.Dockerfile, DomainName: s.DomainName, Entrypoint: s.Entrypoint,
		Provider: s.Provider, Environment: s.Environment, Expose: s.Expose, Extends: s.Extends,
		ExternalLinks: s.ExternalLinks, ExtraHosts: s.ExtraHosts, GroupAdd: s.GroupAdd, Gpus: s.Gpus,
		Hostname: s.Hostname, HealthCheck: s.HealthCheck, Image: s.Image, Init: s.Init, Ipc: s.Ipc,
		Isolation: s.Isolation, Labels: s.Labels, LabelFiles: s.LabelFiles, Links: s.Links, Logging: s.Logging,
		LogDriver: s.LogDriver, LogOpt: s.LogOpt, MemLimit: s.MemLimit, MemReservation: s.MemReservation,
		MemSwapLimit: s.MemSwapLimit, MemSwappiness: s.MemSwappiness, MacAddress: s.MacAddress, Models: s.Models,
		Net: s.Net, NetworkMode: s.NetworkMode, Networks: s.Networks, OomKillDisable: s.OomKillDisable,
		OomScoreAdj: s.OomScoreAdj, Pid: s.Pid, PidsLimit: s.PidsLimit, Platform: s.Platform, Ports: s.Ports,
		Privileged: s.Privileged, ReadOnly: s.ReadOnly, Restart: s.Restart, Runtime: s.Runtime, Secrets: s.Secrets,
		SecurityOpt: s.SecurityOpt, ShmSize: s.ShmSize, StdinOpen: s.StdinOpen, StopGracePeriod: s.StopGracePeriod,
		StopSignal: s.StopSignal, StorageOpt: s.StorageOpt, Sysctls: s.Sysctls, Tmpfs: s.Tmpfs, Tty: s.Tty,
		Ulimits: s.Ulimits, UseAPISocket: s.UseAPISocket, User: s.User, UserNSMode: s.UserNSMode, Uts: s.Uts,
		VolumeDriver: s.VolumeDriver, Volumes: volumesAsCompose(s.Volumes), VolumesFrom: s.VolumesFrom,
		WorkingDir: s.WorkingDir, PostStart: s.PostStart, PreStop: s.PreStop,
	})
}

// volumesAsCompose is s.Volumes as compose-go v2.9.1 reads them from the emitted YAML. create_host_path differs:
// the newer release leaves out true (its default) and writes false, while v2.9.1 reads a missing key as false,
// so Compose always sees false for the long syntax this stack is written in.
func volumesAsCompose(vs []types.ServiceVolumeConfig) []composeVolume {
	if vs == nil {
		return nil
	}
	out := make([]composeVolume, len(vs))
	for i, v := range vs {
		out[i] = composeVolume{Type: v.Type, Source: v.Source, Target: v.Target, ReadOnly: v.ReadOnly,
			Consistency: v.Consistency, Volume: v.Volume, Tmpfs: v.Tmpfs, Image: v.Image}
		if v.Bind != nil {
			out[i].Bind = &composeBind{SELinux: v.Bind.SELinux, Propagation: v.Bind.Propagation, Recursive: v.Bind.Recursive}
		}
	}
	return out
}

// composeService is compose-go v2.9.1's ServiceConfig as JSON sees it: the same fields, order and names,
// without those Compose clears before hashing (build, pull_policy, scale, depends_on, profiles) and
// env_file (Compose resolves it into environment and drops it).
type composeService struct {
	Annotations       types.Mapping                          `json:"annotations,omitempty"`
	Attach            *bool                                  `json:"attach,omitempty"`
	Develop           *types.DevelopConfig                   `json:"develop,omitempty"`
	BlkioConfig       *types.BlkioConfig                     `json:"blkio_config,omitempty"`
	CapAdd            []string                               `json:"cap_add,omitempty"`
	CapDrop           []string                               `json:"cap_drop,omitempty"`
	CgroupParent      string                                 `json:"cgroup_parent,omitempty"`
	Cgroup            string                                 `json:"cgroup,omitempty"`
	CPUCount          int64                                  `json:"cpu_count,omitempty"`
	CPUPercent        float32                                `json:"cpu_percent,omitempty"`
	CPUPeriod         int64                                  `json:"cpu_period,omitempty"`
	CPUQuota          int64                                  `json:"cpu_quota,omitempty"`
	CPURTPeriod       int64                                  `json:"cpu_rt_period,omitempty"`
	CPURTRuntime      int64                                  `json:"cpu_rt_runtime,omitempty"`
	CPUS              float32                                `json:"cpus,omitempty"`
	CPUSet            string                                 `json:"cpuset,omitempty"`
	CPUShares         int64                                  `json:"cpu_shares,omitempty"`
	Command           types.ShellCommand                     `json:"command"`
	Configs           []types.ServiceConfigObjConfig         `json:"configs,omitempty"`
	ContainerName     string                                 `json:"container_name,omitempty"`
	CredentialSpec    *types.CredentialSpecConfig            `json:"credential_spec,omitempty"`
	Deploy            *types.DeployConfig                    `json:"deploy,omitempty"`
	DeviceCgroupRules []string                               `json:"device_cgroup_rules,omitempty"`
	Devices           []types.DeviceMapping                  `json:"devices,omitempty"`
	DNS               types.StringList                       `json:"dns,omitempty"`
	DNSOpts           []string                               `json:"dns_opt,omitempty"`
	DNSSearch         types.StringList                       `json:"dns_search,omitempty"`
	Dockerfile        string                                 `json:"dockerfile,omitempty"`
	DomainName        string                                 `json:"domainname,omitempty"`
	Entrypoint        types.ShellCommand                     `json:"entrypoint"`
	Provider          *types.ServiceProviderConfig           `json:"provider,omitempty"`
	Environment       types.MappingWithEquals                `json:"environment,omitempty"`
	Expose            types.StringOrNumberList               `json:"expose,omitempty"`
	Extends           *types.ExtendsConfig                   `json:"extends,omitempty"`
	ExternalLinks     []string                               `json:"external_links,omitempty"`
	ExtraHosts        types.HostsList                        `json:"extra_hosts,omitempty"`
	GroupAdd          []string                               `json:"group_add,omitempty"`
	Gpus              []types.DeviceRequest                  `json:"gpus,omitempty"`
	Hostname          string                                 `json:"hostname,omitempty"`
	HealthCheck       *types.HealthCheckConfig               `json:"healthcheck,omitempty"`
	Image             string                                 `json:"image,omitempty"`
	Init              *bool                                  `json:"init,omitempty"`
	Ipc               string                                 `json:"ipc,omitempty"`
	Isolation         string                                 `json:"isolation,omitempty"`
	Labels            types.Labels                           `json:"labels,omitempty"`
	LabelFiles        []string                               `json:"label_file,omitempty"`
	Links             []string                               `json:"links,omitempty"`
	Logging           *types.LoggingConfig                   `json:"logging,omitempty"`
	LogDriver         string                                 `json:"log_driver,omitempty"`
	LogOpt            map[string]string                      `json:"log_opt,omitempty"`
	MemLimit          types.UnitBytes                        `json:"mem_limit,omitempty"`
	MemReservation    types.UnitBytes                        `json:"mem_reservation,omitempty"`
	MemSwapLimit      types.UnitBytes                        `json:"memswap_limit,omitempty"`
	MemSwappiness     types.UnitBytes                        `json:"mem_swappiness,omitempty"`
	MacAddress        string                                 `json:"mac_address,omitempty"`
	Models            map[string]*types.ServiceModelConfig   `json:"models,omitempty"`
	Net               string                                 `json:"net,omitempty"`
	NetworkMode       string                                 `json:"network_mode,omitempty"`
	Networks          map[string]*types.ServiceNetworkConfig `json:"networks,omitempty"`
	OomKillDisable    bool                                   `json:"oom_kill_disable,omitempty"`
	OomScoreAdj       int64                                  `json:"oom_score_adj,omitempty"`
	Pid               string                                 `json:"pid,omitempty"`
	PidsLimit         int64                                  `json:"pids_limit,omitempty"`
	Platform          string                                 `json:"platform,omitempty"`
	Ports             []types.ServicePortConfig              `json:"ports,omitempty"`
	Privileged        bool                                   `json:"privileged,omitempty"`
	ReadOnly          bool                                   `json:"read_only,omitempty"`
	Restart           string                                 `json:"restart,omitempty"`
	Runtime           string                                 `json:"runtime,omitempty"`
	Secrets           []types.ServiceSecretConfig            `json:"secrets,omitempty"`
	SecurityOpt       []string                               `json:"security_opt,omitempty"`
	ShmSize           types.UnitBytes                        `json:"shm_size,omitempty"`
	StdinOpen         bool                                   `json:"stdin_open,omitempty"`
	StopGracePeriod   *types.Duration                        `json:"stop_grace_period,omitempty"`
	StopSignal        string                                 `json:"stop_signal,omitempty"`
	StorageOpt        map[string]string                      `json:"storage_opt,omitempty"`
	Sysctls           types.Mapping                          `json:"sysctls,omitempty"`
	Tmpfs             types.StringList                       `json:"tmpfs,omitempty"`
	Tty               bool                                   `json:"tty,omitempty"`
	Ulimits           map[string]*types.UlimitsConfig        `json:"ulimits,omitempty"`
	UseAPISocket      bool                                   `json:"use_api_socket,omitempty"`
	User              string                                 `json:"user,omitempty"`
	UserNSMode        string                                 `json:"userns_mode,omitempty"`
	Uts               string                                 `json:"uts,omitempty"`
	VolumeDriver      string                                 `json:"volume_driver,omitempty"`
	Volumes           []composeVolume                        `json:"volumes,omitempty"`
	VolumesFrom       []string                               `json:"volumes_from,omitempty"`
	WorkingDir        string                                 `json:"working_dir,omitempty"`
	PostStart         []types.ServiceHook                    `json:"post_start,omitempty"`
	PreStop           []types.ServiceHook                    `json:"pre_stop,omitempty"`
}

// composeVolume is compose-go v2.9.1's ServiceVolumeConfig.
type composeVolume struct {
	Type        string                     `json:"type,omitempty"`
	Source      string                     `json:"source,omitempty"`
	Target      string                     `json:"target,omitempty"`
	ReadOnly    bool                       `json:"read_only,omitempty"`
	Consistency string                     `json:"consistency,omitempty"`
	Bind        *composeBind               `json:"bind,omitempty"`
	Volume      *types.ServiceVolumeVolume `json:"volume,omitempty"`
	Tmpfs       *types.ServiceVolumeTmpfs  `json:"tmpfs,omitempty"`
	Image       *types.ServiceVolumeImage  `json:"image,omitempty"`
}

// composeBind is compose-go v2.9.1's ServiceVolumeBind, whose create_host_path is a plain omitempty bool.
type composeBind struct {
	SELinux        string `json:"selinux,omitempty"`
	Propagation    string `json:"propagation,omitempty"`
	CreateHostPath bool   `json:"create_host_path,omitempty"`
	Recursive      string `json:"recursive,omitempty"`
}
