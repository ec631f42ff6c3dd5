package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/m2mnet/m2m/stack/settings"
)

// kind is how a question is asked; everything else about it (title, help, default, choices, checks) comes
// from its setting in stack.Schema.
type kind int

const (
	kindText   kind = iota
	kindChoice      // the setting's Choices
	kindYesNo       // stored as true/false
	kindPort        // a host port: 1-65535 and distinct from the stack's other host ports
	// kindSecretFile asks for a file that holds the secret, so that the secret is never typed where it is
	// echoed, never on a command line (ps, shell history) and never printed back.
	kindSecretFile
)

// signingInactive is said wherever keys are asked for or shown: no code of this release signs a settlement.
const signingInactive = "Settlement signing is not active in this release: keys and KMS settings are kept " +
	"in the .env and reach no container until the connector signs settlements."

// question is one thing the wizard asks: which setting it fills and which flag answers it in a script.
type question struct {
	name string // the setting
	flag string
	// ask is the question in words, the field's title; the setting's name is shown small beside it and its
	// Doc below it.
	ask  string
	kind kind
	// when reports whether the question applies given the answers so far; nil means always.
	when func(a answers) bool
	// need reports whether the wizard insists on an answer where the schema's RequiredWhen does not say so.
	need func(a answers) bool
	// drives marks a question whose answer decides which later questions apply: a form page ends after it.
	drives bool
	// newPage starts a form page at the question.
	newPage bool
	// follows is the default given the answers so far ("" for the schema's): it replaces the answer while the
	// answer is still the schema's default or what follows gave before, never a flag's or the operator's.
	follows func(a answers) string
}

func settlesOn(chain string) func(answers) bool {
	return func(a answers) bool { p := a.get(settings.SettlementPreference); return p == chain || p == "both" }
}

func backendIs(b string) func(answers) bool {
	return func(a answers) bool { return a.get(settings.KeyBackend) == b }
}

func allOf(fs ...func(answers) bool) func(answers) bool {
	return func(a answers) bool {
		for _, f := range fs {
			if !f(a) {
				return false
			}
		}
		return true
	}
}

func isSet(name string) func(answers) bool { return func(a answers) bool { return a.get(name) != "" } }

func discoveryOn(a answers) bool {
	b, _ := settings.ParseBool(a.get(settings.PeerDiscoveryEnabled))
	return b
}

func tlsIs(mode string) func(answers) bool {
	return func(a answers) bool { return a.get(settings.BTPTLS) == mode }
}

// tlsAsked: TLS is asked about when the node is announced (discovery), or when a flag chose a mode.
func tlsAsked(a answers) bool { return discoveryOn(a) || a.get(settings.BTPTLS) != "off" }

func tlsOn(a answers) bool { m := a.get(settings.BTPTLS); return m == "acme" || m == "files" }

// tlsDefault: a node announced to the world gets its certificate itself, unless its announce address
// (given by flag) says plain ws://, a private network's choice.
func tlsDefault(a answers) string {
	if discoveryOn(a) && !strings.HasPrefix(a.get(settings.PeerAnnounceAddress), "ws://") {
		return "acme"
	}
	return ""
}

// domainDefault is the host of a wss:// announce address given by flag.
func domainDefault(a answers) string {
	u, err := url.Parse(a.get(settings.PeerAnnounceAddress))
	if err != nil || u.Scheme != "wss" {
		return ""
	}
	return u.Hostname()
}

// announceDefault is wss://<domain>:<BTP port> once the node serves TLS for a domain.
func announceDefault(a answers) string {
	if d := a.get(settings.BTPDomain); d != "" && tlsOn(a) {
		return "wss://" + net.JoinHostPort(d, a.get(settings.BTPPort))
	}
	return ""
}

func onSwarm(a answers) bool { return a.get(settings.DeployTarget) == settings.TargetSwarm }

// replicasAsked: the replica count is asked on a Swarm, and written whenever a flag chose more than one.
func replicasAsked(a answers) bool {
	return onSwarm(a) || a.get(settings.TigerBeetleReplicaCount) != "1"
}

// replicasDefault: three replicas on a Swarm, TigerBeetle's smallest fault-tolerant cluster.
func replicasDefault(a answers) string {
	if onSwarm(a) {
		return "3"
	}
	return ""
}

// applyFollows gives every question not answered by a flag the default its follows derives from the answers
// before it, in order; derived remembers what was given, so a later change of an earlier answer moves it.
func applyFollows(qs []question, a answers, preset map[string]bool, derived map[string]string) {
	for _, q := range qs {
		if q.follows == nil || preset[q.name] {
			continue
		}
		if cur := a.get(q.name); cur != q.setting().Default && cur != derived[q.name] {
			continue // the operator's own answer
		}
		v := q.follows(a)
		if v == "" {
			v = q.setting().Default
		}
		a.set(q.name, v)
		derived[q.name] = v
	}
}

// questions lists what the wizard asks, in order. Settings not listed keep their schema default (or are
// generated); the operator can change them in the .env afterwards.
func questions() []question {
	return []question{
		{name: settings.NodeID, flag: "node-id", ask: "What is this node's name on the network?"},
		{name: settings.DeployTarget, flag: "target", ask: "Where will the stack run: on this host, or on a Docker Swarm?", kind: kindChoice, drives: true},
		// On a Swarm the ledger is a cluster (TigerBeetle advises 3 or 6 replicas); on one host more than one
		// replica is for tests, so it is not asked there, but a flag may still set it.
		{name: settings.TigerBeetleReplicaCount, flag: "replicas", ask: "How many TigerBeetle replicas form the ledger?", kind: kindChoice,
			when: replicasAsked, follows: replicasDefault, drives: true},
		{name: settings.SettlementPreference, flag: "settlement", ask: "Which chains does this node settle on?", kind: kindChoice, drives: true},
		{name: settings.EVMAddress, flag: "evm-address", ask: "Which EVM address receives this node's settlements?", when: settlesOn("evm")},
		{name: settings.BaseRPCURL, flag: "base-rpc-url", ask: "Which EVM (Base) node does this node ask about the chain?", when: settlesOn("evm")},
		{name: settings.XRPAddress, flag: "xrp-address", ask: "Which XRP address receives this node's settlements?", when: settlesOn("xrp")},
		{name: settings.XRPLWSSURL, flag: "xrpl-wss-url", ask: "Which XRP Ledger server does this node ask about the ledger?", when: settlesOn("xrp")},
		{name: settings.KeyBackend, flag: "key-backend", ask: "Where will this node's signing keys live?", kind: kindChoice, drives: true, newPage: true},
		// Optional until something signs: asked, skippable, written when given.
		{name: settings.EVMPrivateKey, flag: "evm-private-key-file", ask: "Which file holds the EVM signing key (optional for now)?", kind: kindSecretFile,
			when: allOf(backendIs("env"), settlesOn("evm"))},
		{name: settings.XRPSecret, flag: "xrp-secret-file", ask: "Which file holds the XRP secret (optional for now)?", kind: kindSecretFile,
			when: allOf(backendIs("env"), settlesOn("xrp"))},
		{name: settings.AWSRegion, flag: "aws-region", ask: "In which AWS region is the KMS key?", when: backendIs("aws-kms")},
		{name: settings.AWSKMSEVMKeyID, flag: "aws-kms-evm-key-id", ask: "Which AWS KMS key signs EVM settlements?", when: allOf(backendIs("aws-kms"), settlesOn("evm"))},
		{name: settings.AWSKMSXRPKeyID, flag: "aws-kms-xrp-key-id", ask: "Which AWS KMS key signs XRP settlements?", when: allOf(backendIs("aws-kms"), settlesOn("xrp"))},
		{name: settings.AWSAccessKeyID, flag: "aws-access-key-id", ask: "Which AWS access key id (empty: the instance role)?", when: backendIs("aws-kms")},
		{name: settings.AWSSecretAccessKey, flag: "aws-secret-access-key-file", ask: "Which file holds the AWS secret access key?", kind: kindSecretFile,
			when: backendIs("aws-kms"), need: isSet(settings.AWSAccessKeyID)},
		{name: settings.GCPProjectID, flag: "gcp-project-id", ask: "Which Google Cloud project holds the KMS key?", when: backendIs("gcp-kms")},
		{name: settings.GCPKMSLocation, flag: "gcp-kms-location", ask: "In which Cloud KMS location is the key ring?", when: backendIs("gcp-kms")},
		{name: settings.GCPKMSKeyring, flag: "gcp-kms-keyring", ask: "Which Cloud KMS key ring holds the keys?", when: backendIs("gcp-kms")},
		{name: settings.GCPKMSEVMKey, flag: "gcp-kms-evm-key", ask: "Which Cloud KMS key signs EVM settlements?", when: allOf(backendIs("gcp-kms"), settlesOn("evm"))},
		{name: settings.GCPKMSXRPKey, flag: "gcp-kms-xrp-key", ask: "Which Cloud KMS key signs XRP settlements?", when: allOf(backendIs("gcp-kms"), settlesOn("xrp"))},
		{name: settings.GCPCredentialsJSON, flag: "gcp-credentials-json-file", ask: "Which file holds the service-account credentials (empty: workload identity)?",
			kind: kindSecretFile, when: backendIs("gcp-kms")},
		{name: settings.AzureKeyVaultURL, flag: "azure-key-vault-url", ask: "What is the Azure Key Vault's URL?", when: backendIs("azure-kv")},
		{name: settings.AzureEVMKeyName, flag: "azure-evm-key-name", ask: "Which vault key signs EVM settlements?", when: allOf(backendIs("azure-kv"), settlesOn("evm"))},
		{name: settings.AzureXRPKeyName, flag: "azure-xrp-key-name", ask: "Which vault key signs XRP settlements?", when: allOf(backendIs("azure-kv"), settlesOn("xrp"))},
		{name: settings.AzureTenantID, flag: "azure-tenant-id", ask: "Which Azure AD tenant (empty: the managed identity)?", when: backendIs("azure-kv")},
		{name: settings.AzureClientID, flag: "azure-client-id", ask: "Which Azure AD application (empty: the managed identity)?", when: backendIs("azure-kv")},
		{name: settings.AzureClientSecret, flag: "azure-client-secret-file", ask: "Which file holds the Azure client secret (empty: the managed identity)?",
			kind: kindSecretFile, when: backendIs("azure-kv")},
		{name: settings.PrometheusEnabled, flag: "monitoring", ask: "Run Prometheus and Grafana with the node?", kind: kindYesNo, newPage: true},
		{name: settings.BTPPort, flag: "btp-port", ask: "On which public port do peers reach this node?", kind: kindPort},
		{name: settings.HealthCheckPort, flag: "health-port", ask: "On which local port are health and metrics served?", kind: kindPort},
		{name: settings.LogLevel, flag: "log-level", ask: "How much should the connector log?", kind: kindChoice},
		{name: settings.PeerDiscoveryEnabled, flag: "discovery", ask: "Find peers through a discovery registry?", kind: kindYesNo, drives: true},
		{name: settings.PeerDiscoveryEndpoints, flag: "discovery-endpoints", ask: "Which discovery registries (comma-separated URLs)?", when: discoveryOn},
		// TLS of the BTP port (connector/tlsserve): acme by default for an announced node.
		{name: settings.BTPTLS, flag: "tls", ask: "How does the BTP port get its TLS certificate (wss://)?", kind: kindChoice, when: tlsAsked,
			follows: tlsDefault, drives: true},
		{name: settings.BTPDomain, flag: "domain", ask: "Which public DNS name points at this host?", when: tlsOn, follows: domainDefault, drives: true},
		{name: settings.ACMEEmail, flag: "acme-email", ask: "Which email address gets the CA's expiry notices (optional)?", when: tlsIs("acme")},
		{name: settings.BTPTLSCertFile, flag: "tls-cert-file", ask: "Which file holds the certificate chain, as the connector sees it?", when: tlsIs("files")},
		{name: settings.BTPTLSKeyFile, flag: "tls-key-file", ask: "Which file holds its private key, as the connector sees it?", when: tlsIs("files")},
		{name: settings.PeerAnnounceAddress, flag: "announce-address", ask: "At which public wss:// URL do peers reach this node?", when: discoveryOn,
			follows: announceDefault},
	}
}

// setting returns the schema entry the question fills; the question table only names settings that exist.
func (q question) setting() settings.Setting {
	s, ok := settings.Lookup(q.name)
	if !ok {
		panic("init: question for unknown setting " + q.name)
	}
	return s
}

func (q question) applies(a answers) bool { return q.when == nil || q.when(a) }

// required reports whether the question must have a non-empty answer: the schema says so, or the wizard does.
func (q question) required(a answers) bool {
	return q.setting().Required(a.values()) || (q.need != nil && q.need(a))
}

// hostPorts are the settings that publish a host port; the wizard keeps them distinct.
var hostPorts = []string{settings.BTPPort, settings.HealthCheckPort, settings.PrometheusPort, settings.GrafanaPort, settings.JaegerUIPort, settings.DiscoveryPort}

// check validates an answer (for a secret file: the path; its contents are checked) through the schema,
// plus the wizard's own rules. An error never contains a secret.
func (q question) check(a answers, v string) error {
	v = strings.TrimSpace(v)
	s := q.setting()
	if v == "" {
		if q.required(a) {
			return fmt.Errorf("an answer is needed: %s", s.Doc)
		}
		return nil
	}
	if q.kind == kindSecretFile {
		_, err := readSecretFile(s, v)
		return err
	}
	if q.kind == kindYesNo {
		v = normalBool(v)
	}
	if q.kind == kindPort {
		if err := checkHostPort(a, q.name, v); err != nil {
			return err
		}
	}
	return s.Check(v)
}

// checkHostPort is stricter than the schema, which lets 0 mean "Docker picks": the wizard wants fixed ports
// the operator can announce and find.
func checkHostPort(a answers, name, v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 65535 {
		return errors.New("must be a port number 1-65535")
	}
	taken := a.values()
	for _, other := range hostPorts {
		if other != name && taken[other] == v {
			return fmt.Errorf("is already the port of %s; give each its own", other)
		}
	}
	return nil
}

// readSecretFile reads a secret from path and checks it; errors name the file, never its contents.
func readSecretFile(s settings.Setting, path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("cannot read the file for %s: %w", s.Name, err)
	}
	secret := strings.TrimSpace(string(b))
	if secret == "" {
		return "", fmt.Errorf("%s is empty; it should hold %s", path, s.Doc)
	}
	if err := s.Check(secret); err != nil {
		return "", fmt.Errorf("%s does not hold a valid %s: %w", path, s.Name, err)
	}
	return secret, nil
}

// normalBool writes a boolean the way the .env example does (true/false), whichever spelling settings.ParseBool
// accepted; an empty or unreadable value is left for validation to report.
func normalBool(v string) string {
	if b, err := settings.ParseBool(v); err == nil && strings.TrimSpace(v) != "" {
		return strconv.FormatBool(b)
	}
	return v
}

// answers holds the wizard's values by setting name. Each value has a stable address so that huh fields bind
// to it and validators of one field can read the others while a page is on screen.
type answers map[string]*string

func (a answers) ptr(name string) *string {
	p, ok := a[name]
	if !ok {
		p = new(string)
		a[name] = p
	}
	return p
}

func (a answers) get(name string) string {
	if p, ok := a[name]; ok {
		return strings.TrimSpace(*p)
	}
	return ""
}

func (a answers) set(name, v string) { *a.ptr(name) = v }

// values returns the answers with the schema's defaults filled in, for RequiredWhen.
func (a answers) values() settings.Values {
	v := settings.Values{}
	for _, s := range settings.Schema() {
		v[s.Name] = s.Default
		if x := a.get(s.Name); x != "" {
			v[s.Name] = x
		}
	}
	return v
}
