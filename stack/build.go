package stack

import (
	"cmp"
	"fmt"
	"strings"
	"time"

	"github.com/m2mnet/m2m/stack/settings"

	"github.com/compose-spec/compose-go/v2/types"
)

// ProjectName is the Compose project name the stack uses unless told otherwise.
const ProjectName = "m2m"

// NetworkName is the key of the stack's one network; Compose names it <project>_ilp-production-network.
const NetworkName = "ilp-production-network"

// Volumes of the stack. The TigerBeetle data file lives in tigerbeetle-data and is never deleted by m2m.
const (
	VolumeTigerBeetle = "tigerbeetle-data"
	VolumeConnector   = "connector-data"
	VolumeLogs        = "connector-logs"
	VolumePrometheus  = "prometheus-data"
	VolumeGrafana     = "grafana-data"
)

// Profiles that enable optional services.
const (
	ProfileTracing   = "tracing"
	ProfileDiscovery = "discovery"
)

// Container-side ports. Host ports are settings; these never change, so Prometheus can scrape connector:8080.
const (
	ContainerBTPPort       = 4000
	ContainerHealthPort    = 8080
	containerTBPort        = 3000
	containerPromPort      = 9090
	containerGrafanaPort   = 3000
	containerJaegerUIPort  = 16686
	containerDiscoveryPort = 9000
)

// ConfigDir, next to the .env, holds the operator's files for the connector (the peers file); the connector
// sees it read-only at ContainerConfigDir.
const (
	ConfigDir          = "config"
	ContainerConfigDir = "/etc/m2m"
)

// DataFile is the TigerBeetle data file inside the tigerbeetle-data volume.
const DataFile = "/data/0_0.tigerbeetle"

// Markers the deployer reads on a service; it knows services by these labels, never by name.
const (
	// LabelPortSettings names which .env setting publishes which container port ("4000=BTP_PORT"), so that
	// "port in use" errors can say what to change.
	LabelPortSettings = "io.m2m.port-settings"
	// LabelDoneIfExists on a one-shot names a path in its mounts whose presence means its work is done: the
	// deployer looks (on a created, never-started container) and does not run it.
	LabelDoneIfExists = "io.m2m.done-if-exists"
)

// Build returns the stack described by the settings as a Compose project. Values the operator may change are
// written as ${VAR:-default} references resolved from the .env at load time, so secrets never enter the
// project or its YAML; only structural choices (monitoring on or off) are taken from v.
func Build(v settings.Values) *types.Project {
	services := types.Services{}
	for _, s := range []types.ServiceConfig{
		formatService(), tigerBeetleService(), connectorService(), jaegerService(), discoveryService(),
	} {
		services[s.Name] = s
	}
	if v.String(settings.BTPTLS) == "acme" {
		// The CA validates the name (TLS-ALPN-01) on port 443, whatever BTP_PORT is: publish the BTP listener there too.
		c := services[settings.ServiceConnector]
		c.Ports = append(c.Ports, port(settings.BTPTLSPort, ContainerBTPPort, ""))
		services[settings.ServiceConnector] = c
	}
	if v.Bool(settings.PrometheusEnabled) {
		services[settings.ServicePrometheus] = prometheusService()
		services[settings.ServiceGrafana] = grafanaService()
	}
	volumes := types.Volumes{}
	for _, name := range []string{VolumeTigerBeetle, VolumeConnector, VolumeLogs, VolumePrometheus, VolumeGrafana} {
		volumes[name] = types.VolumeConfig{}
	}
	p := &types.Project{
		Name:     cmp.Or(v.String(settings.ProjectName), ProjectName),
		Services: services,
		Networks: types.Networks{NetworkName: types.NetworkConfig{Driver: "bridge"}},
		Volumes:  volumes,
	}
	replicate(v, p)
	return p
}

// ref is a ${NAME:-default} reference to a setting.
func ref(name string) string {
	s, ok := settings.Lookup(name)
	if !ok {
		panic("stack: no setting " + name) // a programming error caught by every test
	}
	// ${NAME:-} rather than ${NAME}: an unset optional setting is not worth a warning from Compose.
	def := s.Default
	// A .env may spell the setting another way (an alias); plain Compose then finds it under that name.
	for i := len(s.Aliases) - 1; i >= 0; i-- {
		def = "${" + s.Aliases[i] + ":-" + def + "}"
	}
	return "${" + name + ":-" + def + "}"
}

// environmentFor lists every setting passed to service, each as a reference to the .env.
func environmentFor(service string) types.MappingWithEquals {
	env := types.MappingWithEquals{}
	for _, s := range settings.Schema() {
		for _, target := range s.Services {
			if target == service {
				r := ref(s.Name)
				env[s.Name] = &r
			}
		}
	}
	return env
}

func duration(d time.Duration) *types.Duration { td := types.Duration(d); return &td }

func retries(n uint64) *uint64 { return &n }

// logging rotates every service's json-file log: at most 3 files of 10 MB.
func logging() *types.LoggingConfig {
	return &types.LoggingConfig{Driver: "json-file", Options: types.Options{"max-size": "10m", "max-file": "3"}}
}

func onNetwork() map[string]*types.ServiceNetworkConfig {
	return map[string]*types.ServiceNetworkConfig{NetworkName: nil}
}

func volume(source, target string, readOnly bool) types.ServiceVolumeConfig {
	return types.ServiceVolumeConfig{Type: types.VolumeTypeVolume, Source: source, Target: target, ReadOnly: readOnly}
}

// bind mounts a host directory read-only; create makes it (empty) when it is missing.
func bind(source, target string, create bool) types.ServiceVolumeConfig {
	return types.ServiceVolumeConfig{Type: types.VolumeTypeBind, Source: source, Target: target, ReadOnly: true,
		Bind: &types.ServiceVolumeBind{CreateHostPath: types.OptOut(create)}}
}

// port publishes container port target on the host port named by setting, on hostIP ("" = all interfaces).
func port(setting string, target uint32, hostIP string) types.ServicePortConfig {
	return types.ServicePortConfig{Mode: "ingress", HostIP: hostIP, Target: target, Published: ref(setting), Protocol: "tcp"}
}

func portLabels(pairs ...string) types.Labels {
	return types.Labels{LabelPortSettings: strings.Join(pairs, ",")}
}

// formatScript formats the TigerBeetle data file once and atomically: an existing file is never touched; a
// partial file left by an interrupted format is only ever the temp file, which is removed and redone.
func formatScript() string { return formatScriptFor(0, 1) }

// formatScriptFor is formatScript for replica i of a cluster of n.
func formatScriptFor(i, n int) string {
	file := ReplicaDataFile(i)
	tmp := file + ".formatting"
	return fmt.Sprintf(`set -eu
if test -e %[1]s; then echo "tigerbeetle-format: %[1]s exists; already formatted"; exit 0; fi
rm -f %[2]s
/tigerbeetle format --cluster=$${TIGERBEETLE_CLUSTER_ID} --replica=%[3]d --replica-count=%[4]d %[2]s
mv %[2]s %[1]s
echo "tigerbeetle-format: formatted %[1]s"
`, file, tmp, i, n)
}

func formatService() types.ServiceConfig {
	s := types.ServiceConfig{Name: settings.ServiceFormat, Restart: types.RestartPolicyNo}
	s.Image = ref(settings.TigerBeetleImage)
	s.Entrypoint = types.ShellCommand{"/bin/sh", "-c"}
	s.Command = types.ShellCommand{formatScript()}
	s.Labels = types.Labels{LabelDoneIfExists: DataFile}
	cluster := "${" + settings.TigerBeetleClusterID + ":?run m2mctl init to set TIGERBEETLE_CLUSTER_ID}"
	s.Environment = types.MappingWithEquals{settings.TigerBeetleClusterID: &cluster}
	s.Volumes = []types.ServiceVolumeConfig{volume(VolumeTigerBeetle, "/data", false)}
	s.SecurityOpt = []string{"seccomp=unconfined"}
	s.Logging = logging()
	s.Networks = onNetwork()
	return s
}

func tigerBeetleService() types.ServiceConfig {
	s := types.ServiceConfig{Name: settings.ServiceTigerBeetle, Restart: types.RestartPolicyUnlessStopped}
	s.Image = ref(settings.TigerBeetleImage)
	s.Command = types.ShellCommand{"start", fmt.Sprintf("--addresses=0.0.0.0:%d", containerTBPort),
		"--cache-grid=" + ref(settings.TigerBeetleCacheGrid), DataFile}
	s.Volumes = []types.ServiceVolumeConfig{volume(VolumeTigerBeetle, "/data", false)}
	// io_uring is blocked by Docker ≥ 25's default seccomp profile; TigerBeetle cannot run without it.
	s.SecurityOpt = []string{"seccomp=unconfined"}
	// A TCP probe: busybox nc connects and either returns at once or is cut by timeout; only a refused
	// connection (exit 1) is unhealthy.
	s.HealthCheck = &types.HealthCheckConfig{
		Test:     types.HealthCheckTest{"CMD-SHELL", fmt.Sprintf("timeout 2 nc 127.0.0.1 %d </dev/null; test $$? -ne 1", containerTBPort)},
		Interval: duration(5 * time.Second), Timeout: duration(5 * time.Second), Retries: retries(12), StartPeriod: duration(30 * time.Second),
	}
	s.DependsOn = types.DependsOnConfig{settings.ServiceFormat: {Condition: types.ServiceConditionCompletedSuccessfully, Required: true}}
	s.StopGracePeriod = duration(30 * time.Second)
	s.Logging = logging()
	s.Networks = onNetwork()
	return s
}

func connectorService() types.ServiceConfig {
	s := types.ServiceConfig{Name: settings.ServiceConnector, Restart: types.RestartPolicyUnlessStopped}
	s.Image = ref(settings.ConnectorImage)
	s.Environment = environmentFor(settings.ServiceConnector)
	s.Ports = []types.ServicePortConfig{
		port(settings.BTPPort, ContainerBTPPort, ""),
		port(settings.HealthCheckPort, ContainerHealthPort, "127.0.0.1"),
	}
	s.Labels = portLabels(fmt.Sprintf("%d=%s", ContainerBTPPort, settings.BTPPort), fmt.Sprintf("%d=%s", ContainerHealthPort, settings.HealthCheckPort))
	s.Volumes = []types.ServiceVolumeConfig{
		volume(VolumeConnector, "/data", false), volume(VolumeLogs, "/logs", false),
		// The operator's own files (the peers file) live in ./config next to the .env.
		bind("./"+ConfigDir, ContainerConfigDir, true),
	}
	s.User = "1001:1001"
	s.ReadOnly = true
	s.Tmpfs = types.StringList{"/tmp"}
	s.CapDrop = []string{"ALL"}
	s.SecurityOpt = []string{"no-new-privileges:true"}
	s.HealthCheck = &types.HealthCheckConfig{
		Test:     types.HealthCheckTest{"CMD", "/m2m-connector", "healthcheck"},
		Interval: duration(5 * time.Second), Timeout: duration(3 * time.Second), Retries: retries(6), StartPeriod: duration(20 * time.Second),
	}
	s.DependsOn = types.DependsOnConfig{settings.ServiceTigerBeetle: {Condition: types.ServiceConditionHealthy, Required: true}}
	s.StopGracePeriod = duration(15 * time.Second)
	s.Logging = logging()
	s.Networks = onNetwork()
	return s
}

func prometheusService() types.ServiceConfig {
	s := types.ServiceConfig{Name: settings.ServicePrometheus, Restart: types.RestartPolicyUnlessStopped}
	s.Image = ref(settings.PrometheusImage)
	s.Command = types.ShellCommand{
		"--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus",
		"--storage.tsdb.retention.time=15d", "--web.enable-lifecycle",
	}
	s.Volumes = []types.ServiceVolumeConfig{
		bind("./templates/prometheus", "/etc/prometheus", false),
		volume(VolumePrometheus, "/prometheus", false),
	}
	s.Ports = []types.ServicePortConfig{port(settings.PrometheusPort, containerPromPort, "127.0.0.1")}
	s.Labels = portLabels(fmt.Sprintf("%d=%s", containerPromPort, settings.PrometheusPort))
	s.HealthCheck = &types.HealthCheckConfig{
		Test:     types.HealthCheckTest{"CMD", "wget", "-q", "-O", "/dev/null", fmt.Sprintf("http://127.0.0.1:%d/-/healthy", containerPromPort)},
		Interval: duration(5 * time.Second), Timeout: duration(3 * time.Second), Retries: retries(6), StartPeriod: duration(15 * time.Second),
	}
	// Prometheus must come up even when the connector is unhealthy: it is how an operator sees why.
	s.DependsOn = types.DependsOnConfig{settings.ServiceConnector: {Condition: types.ServiceConditionStarted, Required: false}}
	s.Logging = logging()
	s.Networks = onNetwork()
	return s
}

func grafanaService() types.ServiceConfig {
	s := types.ServiceConfig{Name: settings.ServiceGrafana, Restart: types.RestartPolicyUnlessStopped}
	s.Image = ref(settings.GrafanaImage)
	password := "${" + settings.GrafanaPassword + ":?run m2mctl init to set GRAFANA_PASSWORD}"
	user, signup := "admin", "false"
	s.Environment = types.MappingWithEquals{
		"GF_SECURITY_ADMIN_USER": &user, "GF_SECURITY_ADMIN_PASSWORD": &password, "GF_USERS_ALLOW_SIGN_UP": &signup,
	}
	s.Volumes = []types.ServiceVolumeConfig{
		bind("./templates/grafana/provisioning", "/etc/grafana/provisioning", false),
		bind("./templates/grafana/dashboards", "/var/lib/grafana/dashboards", false),
		volume(VolumeGrafana, "/var/lib/grafana", false),
	}
	s.Ports = []types.ServicePortConfig{port(settings.GrafanaPort, containerGrafanaPort, "127.0.0.1")}
	s.Labels = portLabels(fmt.Sprintf("%d=%s", containerGrafanaPort, settings.GrafanaPort))
	s.HealthCheck = &types.HealthCheckConfig{
		Test:     types.HealthCheckTest{"CMD", "wget", "-q", "-O", "/dev/null", fmt.Sprintf("http://127.0.0.1:%d/api/health", containerGrafanaPort)},
		Interval: duration(5 * time.Second), Timeout: duration(3 * time.Second), Retries: retries(12), StartPeriod: duration(30 * time.Second),
	}
	s.DependsOn = types.DependsOnConfig{settings.ServicePrometheus: {Condition: types.ServiceConditionStarted, Required: false}}
	s.Logging = logging()
	s.Networks = onNetwork()
	return s
}

func jaegerService() types.ServiceConfig {
	s := types.ServiceConfig{Name: settings.ServiceJaeger, Restart: types.RestartPolicyUnlessStopped, Profiles: []string{ProfileTracing}}
	s.Image = ref(settings.JaegerImage)
	enabled := "true"
	s.Environment = types.MappingWithEquals{"COLLECTOR_OTLP_ENABLED": &enabled}
	s.Ports = []types.ServicePortConfig{port(settings.JaegerUIPort, containerJaegerUIPort, "127.0.0.1")}
	s.Labels = portLabels(fmt.Sprintf("%d=%s", containerJaegerUIPort, settings.JaegerUIPort))
	s.HealthCheck = &types.HealthCheckConfig{
		Test:     types.HealthCheckTest{"CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:14269/"},
		Interval: duration(5 * time.Second), Timeout: duration(3 * time.Second), Retries: retries(6), StartPeriod: duration(15 * time.Second),
	}
	s.Logging = logging()
	s.Networks = onNetwork()
	return s
}

func discoveryService() types.ServiceConfig {
	s := types.ServiceConfig{Name: settings.ServiceDiscovery, Restart: types.RestartPolicyUnlessStopped, Profiles: []string{ProfileDiscovery}}
	s.Image = ref(settings.ConnectorImage)
	s.Command = types.ShellCommand{"discovery", fmt.Sprintf("--listen=0.0.0.0:%d", containerDiscoveryPort), "--data-dir=/data/discovery",
		"--allow-private=" + ref(settings.PeerDiscoveryAllowPrivate)}
	s.Volumes = []types.ServiceVolumeConfig{volume(VolumeConnector, "/data", false)}
	s.Ports = []types.ServicePortConfig{port(settings.DiscoveryPort, containerDiscoveryPort, "")}
	s.Labels = portLabels(fmt.Sprintf("%d=%s", containerDiscoveryPort, settings.DiscoveryPort))
	s.User = "1001:1001"
	s.ReadOnly = true
	s.CapDrop = []string{"ALL"}
	s.SecurityOpt = []string{"no-new-privileges:true"}
	s.HealthCheck = &types.HealthCheckConfig{
		Test:     types.HealthCheckTest{"CMD", "/m2m-connector", "healthcheck", fmt.Sprintf("--url=http://127.0.0.1:%d/health", containerDiscoveryPort)},
		Interval: duration(5 * time.Second), Timeout: duration(3 * time.Second), Retries: retries(6), StartPeriod: duration(10 * time.Second),
	}
	s.Logging = logging()
	s.Networks = onNetwork()
	return s
}
