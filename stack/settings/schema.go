package settings

import "slices"

// Setting names. Code refers to settings only through these constants.
const (
	NodeID         = "NODE_ID"
	ProjectName    = "COMPOSE_PROJECT_NAME"
	ILPAddress     = "ILP_ADDRESS"
	NodePrivateKey = "NODE_PRIVATE_KEY"
	LogLevel       = "LOG_LEVEL"

	SettlementPreference = "SETTLEMENT_PREFERENCE"
	BaseRPCURL           = "BASE_RPC_URL"
	EVMAddress           = "EVM_ADDRESS"
	XRPLWSSURL           = "XRPL_WSS_URL"
	XRPAddress           = "XRP_ADDRESS"

	KeyBackend         = "KEY_BACKEND"
	EVMPrivateKey      = "EVM_PRIVATE_KEY"
	XRPSecret          = "XRP_SECRET"
	AWSRegion          = "AWS_REGION"
	AWSKMSEVMKeyID     = "AWS_KMS_EVM_KEY_ID"
	AWSKMSXRPKeyID     = "AWS_KMS_XRP_KEY_ID"
	AWSAccessKeyID     = "AWS_ACCESS_KEY_ID"
	AWSSecretAccessKey = "AWS_SECRET_ACCESS_KEY"
	GCPProjectID       = "GCP_PROJECT_ID"
	GCPKMSLocation     = "GCP_KMS_LOCATION"
	GCPKMSKeyring      = "GCP_KMS_KEYRING"
	GCPKMSEVMKey       = "GCP_KMS_EVM_KEY"
	GCPKMSXRPKey       = "GCP_KMS_XRP_KEY"
	GCPCredentialsJSON = "GCP_CREDENTIALS_JSON"
	AzureKeyVaultURL   = "AZURE_KEY_VAULT_URL"
	AzureEVMKeyName    = "AZURE_EVM_KEY_NAME"
	AzureXRPKeyName    = "AZURE_XRP_KEY_NAME"
	AzureTenantID      = "AZURE_TENANT_ID"
	AzureClientID      = "AZURE_CLIENT_ID"
	AzureClientSecret  = "AZURE_CLIENT_SECRET"

	BTPPort         = "BTP_PORT"
	HealthCheckPort = "HEALTH_CHECK_PORT"
	PeersFile       = "PEERS_FILE"

	// TLS of the BTP listener and the registry (connector/tlsserve).
	BTPTLS         = "BTP_TLS"
	BTPDomain      = "BTP_DOMAIN"
	ACMEEmail      = "ACME_EMAIL"
	ACMECA         = "ACME_CA"
	ACMEDataDir    = "ACME_DATA_DIR"
	BTPTLSCertFile = "BTP_TLS_CERT_FILE"
	BTPTLSKeyFile  = "BTP_TLS_KEY_FILE"
	BTPTLSPort     = "BTP_TLS_PORT"
	TLSCAFile      = "TLS_CA_FILE"

	Ledger               = "LEDGER"
	TigerBeetleClusterID = "TIGERBEETLE_CLUSTER_ID"
	TigerBeetleAddress   = "TIGERBEETLE_ADDRESS"
	TigerBeetleCacheGrid = "TIGERBEETLE_CACHE_GRID"
	DefaultCreditLimit   = "DEFAULT_CREDIT_LIMIT"

	PeerDiscoveryEnabled   = "PEER_DISCOVERY_ENABLED"
	PeerDiscoveryEndpoints = "PEER_DISCOVERY_ENDPOINTS"
	PeerAnnounceAddress    = "PEER_ANNOUNCE_ADDRESS"
	PeerDiscoveryInterval  = "PEER_DISCOVERY_INTERVAL"
	PeerDiscoveryMaxPeers  = "PEER_DISCOVERY_MAX_PEERS"
	DiscoveryPort          = "DISCOVERY_PORT"

	// Discovery trust (issue 14).
	PeerDiscoveryAllowPrivate  = "PEER_DISCOVERY_ALLOW_PRIVATE"
	DiscoveredPeerCreditLimit  = "DISCOVERED_PEER_CREDIT_LIMIT"
	DiscoveredPeersCreditTotal = "DISCOVERED_PEERS_CREDIT_TOTAL"
	BTPMaxConnectionsPerIP     = "BTP_MAX_CONNECTIONS_PER_IP"

	PrometheusEnabled        = "PROMETHEUS_ENABLED"
	PrometheusPort           = "PROMETHEUS_PORT"
	GrafanaPort              = "GRAFANA_PORT"
	GrafanaPassword          = "GRAFANA_PASSWORD"
	OTELExporterOTLPEndpoint = "OTEL_EXPORTER_OTLP_ENDPOINT"
	JaegerUIPort             = "JAEGER_UI_PORT"

	ConnectorImage   = "CONNECTOR_IMAGE"
	TigerBeetleImage = "TIGERBEETLE_IMAGE"
	PrometheusImage  = "PROMETHEUS_IMAGE"
	GrafanaImage     = "GRAFANA_IMAGE"
	JaegerImage      = "JAEGER_IMAGE"
)

// TigerBeetleRelease is the server release the stack pins: the same as the Go client's (a newer client is
// refused by an older cluster).
const TigerBeetleRelease = "0.17.9"

// Services in the stack.
const (
	ServiceFormat      = "tigerbeetle-format"
	ServiceTigerBeetle = "tigerbeetle"
	ServiceConnector   = "connector"
	ServicePrometheus  = "prometheus"
	ServiceGrafana     = "grafana"
	ServiceJaeger      = "jaeger"
	ServiceDiscovery   = "discovery"
)

func when(key string, values ...string) func(Values) bool {
	return func(v Values) bool {
		for _, want := range values {
			if v[key] == want {
				return true
			}
		}
		return false
	}
}

// on is true when the boolean setting key is on, however it is spelled (see ParseBool).
func on(key string) func(Values) bool {
	return func(v Values) bool { return v.Bool(key) }
}

func settles(chain string) func(Values) bool {
	return func(v Values) bool { return v.Settlement(chain) }
}

func both(a, b func(Values) bool) func(Values) bool {
	return func(v Values) bool { return a(v) && b(v) }
}

func always(Values) bool { return true }

var connectorOnly = []string{ServiceConnector}

// Schema returns every setting in .env order.
func Schema() []Setting {
	clusterNode, clusterLedger := clusterSchema()
	return slices.Concat([]Setting{
		{Name: NodeID, Group: GroupNode, Doc: "This node's name on the network: 3-64 of a-z, 0-9 and '-', starting with a letter.",
			Example: "m2m-7fk2qa", RequiredWhen: always, Validate: validNodeID, Services: connectorOnly},
		{Name: ILPAddress, Group: GroupNode, Doc: "This node's Interledger address (RFC 0015); empty means g.m2m.<NODE_ID>.",
			Example: "g.m2m.m2m-7fk2qa", Validate: validILPAddress, Services: connectorOnly},
		{Name: NodePrivateKey, Group: GroupNode, Doc: "The node's ed25519 identity key (base64 of the 32-byte seed); made by m2mctl init.",
			Example: "<made by m2mctl init>", Secret: true, Generated: true, RequiredWhen: on(PeerDiscoveryEnabled),
			Validate: validEd25519Seed, Services: []string{ServiceConnector}},
		{Name: ProjectName, Group: GroupNode, Doc: "Compose project name: containers, network and volumes are <name>_…; m2mctl migrate sets it to an existing stack's so its volumes are kept.",
			Default: "m2m", Validate: validProjectName},
	}, clusterNode, []Setting{
		{Name: LogLevel, Group: GroupNode, Doc: "Connector log level.", Default: "info", Choices: []string{"debug", "info", "warn", "error"},
			Services: connectorOnly},

		{Name: SettlementPreference, Group: GroupSettlement, Doc: "Which chains this node settles on.", Default: "evm",
			Choices: []string{"evm", "xrp", "both"}, Services: connectorOnly},
		{Name: BaseRPCURL, Group: GroupSettlement, Doc: "EVM JSON-RPC endpoint (Base), http:// or https://.", Default: "https://mainnet.base.org",
			Example: "https://mainnet.base.org", RequiredWhen: settles("evm"), Validate: validURL("http", "https"), Services: connectorOnly},
		{Name: EVMAddress, Group: GroupSettlement, Doc: "Your EVM settlement address (0x + 40 hex; EIP-55 checksum checked when mixed-case).",
			Example: "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", RequiredWhen: settles("evm"), Validate: ValidateEVMAddress},
		{Name: XRPLWSSURL, Group: GroupSettlement, Doc: "XRP Ledger WebSocket endpoint, ws:// or wss://.", Default: "wss://xrplcluster.com",
			Example: "wss://xrplcluster.com", RequiredWhen: settles("xrp"), Validate: validURL("ws", "wss"), Services: connectorOnly},
		{Name: XRPAddress, Group: GroupSettlement, Doc: "Your XRP classic address (r…, base58 with checksum).",
			Example: "rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTh", RequiredWhen: settles("xrp"), Validate: ValidateXRPAddress},

		// Settlement addresses and signing keys reach no container: no code of this release signs a settlement or
		// reads them (connector/config's TestEveryInjectedSettingIsRead holds that line). The wizard still asks
		// for them and keeps them in .env for the release that signs.
		{Name: KeyBackend, Group: GroupKeys, Doc: "Where signing keys live: env (development only), aws-kms, gcp-kms or azure-kv.", Default: "env",
			Choices: []string{"env", "aws-kms", "gcp-kms", "azure-kv"}},
		{Name: EVMPrivateKey, Group: GroupKeys, Doc: "EVM signing key (0x + 64 hex) when KEY_BACKEND=env.", Example: "0x<64 hex>", Secret: true,
			Validate: validHexKey},
		{Name: XRPSecret, Group: GroupKeys, Doc: "XRP family seed (s…) when KEY_BACKEND=env.", Example: "s<28 base58 characters>", Secret: true,
			Aliases: []string{"XRP_PRIVATE_KEY"}, Validate: validXRPSeed},
		{Name: AWSRegion, Group: GroupKeys, Doc: "AWS region of the KMS key.", Example: "eu-west-1", RequiredWhen: when(KeyBackend, "aws-kms"),
			Validate: validAWSRegion},
		{Name: AWSKMSEVMKeyID, Group: GroupKeys, Doc: "AWS KMS key (id, ARN or alias) that signs EVM settlements.", Example: "alias/m2m-evm",
			RequiredWhen: both(when(KeyBackend, "aws-kms"), settles("evm"))},
		{Name: AWSKMSXRPKeyID, Group: GroupKeys, Doc: "AWS KMS key (id, ARN or alias) that signs XRP settlements.", Example: "alias/m2m-xrp",
			RequiredWhen: both(when(KeyBackend, "aws-kms"), settles("xrp"))},
		{Name: AWSAccessKeyID, Group: GroupKeys, Doc: "AWS access key id; empty uses the instance role.", Example: "AKIA…"},
		{Name: AWSSecretAccessKey, Group: GroupKeys, Doc: "AWS secret access key; empty uses the instance role.", Secret: true},
		{Name: GCPProjectID, Group: GroupKeys, Doc: "Google Cloud project of the KMS key.", Example: "my-project", RequiredWhen: when(KeyBackend, "gcp-kms")},
		{Name: GCPKMSLocation, Group: GroupKeys, Doc: "Cloud KMS location of the key ring.", Example: "us-east1",
			RequiredWhen: when(KeyBackend, "gcp-kms"), Validate: validGCPLocation},
		{Name: GCPKMSKeyring, Group: GroupKeys, Doc: "Cloud KMS key ring that holds the keys.", Example: "m2m",
			RequiredWhen: when(KeyBackend, "gcp-kms"), Validate: validGCPName},
		{Name: GCPKMSEVMKey, Group: GroupKeys, Doc: "Cloud KMS key (in the key ring) that signs EVM settlements.", Example: "m2m-evm",
			RequiredWhen: both(when(KeyBackend, "gcp-kms"), settles("evm")), Validate: validGCPName},
		{Name: GCPKMSXRPKey, Group: GroupKeys, Doc: "Cloud KMS key (in the key ring) that signs XRP settlements.", Example: "m2m-xrp",
			RequiredWhen: both(when(KeyBackend, "gcp-kms"), settles("xrp")), Validate: validGCPName},
		{Name: GCPCredentialsJSON, Group: GroupKeys, Doc: "Service-account credentials JSON; empty uses the workload identity.", Secret: true},
		{Name: AzureKeyVaultURL, Group: GroupKeys, Doc: "Azure Key Vault URL.", Example: "https://my-vault.vault.azure.net",
			Aliases: []string{"AZURE_KEYVAULT_URL"}, RequiredWhen: when(KeyBackend, "azure-kv"), Validate: validURL("https")},
		{Name: AzureEVMKeyName, Group: GroupKeys, Doc: "Name of the vault key that signs EVM settlements.", Example: "m2m-evm",
			RequiredWhen: both(when(KeyBackend, "azure-kv"), settles("evm")), Validate: validAzureKeyName},
		{Name: AzureXRPKeyName, Group: GroupKeys, Doc: "Name of the vault key that signs XRP settlements.", Example: "m2m-xrp",
			RequiredWhen: both(when(KeyBackend, "azure-kv"), settles("xrp")), Validate: validAzureKeyName},
		{Name: AzureTenantID, Group: GroupKeys, Doc: "Azure AD tenant id; empty uses the managed identity.", Example: "00000000-0000-0000-0000-000000000000",
			Validate: validUUID},
		{Name: AzureClientID, Group: GroupKeys, Doc: "Azure AD application (client) id; empty uses the managed identity.", Example: "00000000-0000-0000-0000-000000000000",
			Validate: validUUID},
		{Name: AzureClientSecret, Group: GroupKeys, Doc: "Azure AD client secret; empty uses the managed identity.", Secret: true},

		{Name: BTPPort, Group: GroupNetwork, Doc: "Public host port for BTP peering (WebSocket); 0 lets Docker pick a free one.", Default: "4000",
			Validate: validPort},
		{Name: HealthCheckPort, Group: GroupNetwork, Doc: "Host port (127.0.0.1) of the connector's /health and /metrics; 0 lets Docker pick.",
			Default: "8080", Validate: validPort},
		{Name: PeersFile, Group: GroupNetwork, Doc: "Static peers file as the connector sees it: put it in ./config next to the .env, which is /etc/m2m inside; empty for none.",
			Example: "/etc/m2m/peers.yaml", Services: connectorOnly},
		// TLS of the BTP listener (connector/tlsserve); validators in tls.go.
		{Name: BTPTLS, Group: GroupNetwork, Doc: "TLS on the BTP port: acme (a certificate for BTP_DOMAIN from ACME_CA, renewed automatically; needs host port 443 open), files (BTP_TLS_CERT_FILE/BTP_TLS_KEY_FILE), or off (plain ws://, behind a TLS proxy or on a private network).",
			Default: "off", Choices: []string{"acme", "files", "off"}, Services: connectorOnly},
		{Name: BTPDomain, Group: GroupNetwork, Doc: "The node's public DNS name, pointing at this host: the certificate's name and the host in wss:// addresses.",
			Example: "node.example.com", RequiredWhen: when(BTPTLS, "acme"), Validate: validDomain, Services: connectorOnly},
		{Name: ACMEEmail, Group: GroupNetwork, Doc: "Contact address given to the ACME CA (expiry notices); empty for none.",
			Example: "ops@example.com", Validate: validEmail, Services: connectorOnly},
		{Name: ACMECA, Group: GroupNetwork, Doc: "ACME directory URL the certificate is obtained from.", Default: LetsEncryptDirectory,
			Validate: validURL("https"), Services: connectorOnly},
		{Name: ACMEDataDir, Group: GroupNetwork, Doc: "Where the connector keeps its ACME account and certificates (in the connector-data volume).",
			Default: "/data/acme", Services: connectorOnly},
		{Name: BTPTLSCertFile, Group: GroupNetwork, Doc: "PEM certificate chain for BTP_TLS=files, as the connector sees it (./config is /etc/m2m inside); re-read when it changes.",
			Example: "/etc/m2m/tls/fullchain.pem", RequiredWhen: when(BTPTLS, "files"), Services: connectorOnly},
		{Name: BTPTLSKeyFile, Group: GroupNetwork, Doc: "PEM private key for BTP_TLS=files, as the connector sees it.",
			Example: "/etc/m2m/tls/privkey.pem", RequiredWhen: when(BTPTLS, "files"), Services: connectorOnly},
		{Name: BTPTLSPort, Group: GroupNetwork, Doc: "Extra public host port of the BTP listener with BTP_TLS=acme, where the CA validates the name (TLS-ALPN-01); must be reachable as 443 from the internet.",
			Default: "443", Validate: validPort},
		{Name: TLSCAFile, Group: GroupNetwork, Doc: "Extra CA certificates (PEM) trusted, besides the system's, when dialing peers (wss://), registries (https://) and the ACME CA: for private networks and tests.",
			Example: "/etc/m2m/tls/private-ca.pem", Services: connectorOnly},

		{Name: Ledger, Group: GroupLedger, Doc: "Where balances are kept: tigerbeetle, or memory (development only, lost on restart).",
			Default: "tigerbeetle", Choices: []string{"tigerbeetle", "memory"}, Services: connectorOnly},
		{Name: TigerBeetleClusterID, Group: GroupLedger, Doc: "TigerBeetle cluster id, a random 128-bit number made by m2mctl init; never change it after the first start.",
			Example: "<made by m2mctl init>", Generated: true, RequiredWhen: always, Validate: validClusterID,
			Services: []string{ServiceConnector, ServiceFormat}},
		{Name: TigerBeetleAddress, Group: GroupLedger, Doc: "host:port of TigerBeetle as the connector sees it (resolved to an IP by the connector); with several replicas, every replica's, comma-separated (the stack sets it).",
			Default: "tigerbeetle:3000", Validate: validHostPortList, Services: connectorOnly},
		{Name: TigerBeetleCacheGrid, Group: GroupLedger, Doc: "TigerBeetle's cache grid size; TigerBeetle asks for at least 6 GiB of RAM per replica machine, and 256MiB suits a small development host.", Default: "1GiB",
			Example: "512MiB", Validate: validSize},
	}, clusterLedger, []Setting{
		{Name: DefaultCreditLimit, Group: GroupLedger, Doc: "Credit limit of a peers-file entry that gives none, in the asset's smallest unit (discovered peers: DISCOVERED_PEER_CREDIT_LIMIT).", Default: "1000000",
			Validate: validUint, Services: connectorOnly},

		{Name: PeerDiscoveryEnabled, Group: GroupDiscovery, Doc: "Announce this node and connect to peers found through discovery.",
			Default: "false", Validate: validBool, Services: connectorOnly},
		{Name: PeerDiscoveryEndpoints, Group: GroupDiscovery, Doc: "Comma-separated discovery registry URLs (http:// or https://).",
			Example: "https://discovery.m2m.network", RequiredWhen: on(PeerDiscoveryEnabled), Validate: validURLList("http", "https"),
			Services: connectorOnly},
		{Name: PeerAnnounceAddress, Group: GroupDiscovery, Doc: "The BTP URL other nodes use to reach this one (ws:// or wss://).",
			Example: "wss://node.example.com:4000", RequiredWhen: on(PeerDiscoveryEnabled), Validate: validURL("ws", "wss"),
			Services: connectorOnly},
		{Name: PeerDiscoveryInterval, Group: GroupDiscovery, Doc: "How often to announce and fetch peers (well inside the registry's 120 s TTL).",
			Default: "60s", Validate: validInterval, Services: connectorOnly},
		{Name: PeerDiscoveryMaxPeers, Group: GroupDiscovery, Doc: "How many discovered peers this node connects to (those sharing its settlement first, then the longest known, then at random); peers-file peers do not count.",
			Default: "8", Validate: validMaxPeers, Services: connectorOnly},
		{Name: DiscoveryPort, Group: GroupDiscovery, Doc: "Host port of the bundled registry (profile discovery); 0 lets Docker pick.",
			Default: "9000", Validate: validPort},
		// Discovery trust (issue 14).
		{Name: PeerDiscoveryAllowPrivate, Group: GroupDiscovery, Doc: "Accept and dial discovered peers on loopback, private and link-local addresses (a private network or a test); the bundled registry accepts them too.",
			Default: "false", Validate: validBool, Services: connectorOnly},
		{Name: DiscoveredPeerCreditLimit, Group: GroupDiscovery, Doc: "Credit a peer found through discovery may owe this node, in the asset's smallest unit; 0 means it can be paid through this node but owe nothing.",
			Default: "0", Validate: validUint, Services: connectorOnly},
		{Name: BTPMaxConnectionsPerIP, Group: GroupNetwork, Doc: "Connections one IP address may hold open on the BTP port at once; 0 for no cap.",
			Default: "0", Example: "32", Validate: validUint, Services: connectorOnly},
		{Name: DiscoveredPeersCreditTotal, Group: GroupDiscovery, Doc: "Cap on the credit granted to all discovered peers together; a peer past it gets 0.",
			Default: "0", Validate: validUint, Services: connectorOnly},

		{Name: PrometheusEnabled, Group: GroupMonitoring, Doc: "Run Prometheus and Grafana with the node.", Default: "true", Validate: validBool},
		{Name: PrometheusPort, Group: GroupMonitoring, Doc: "Host port (127.0.0.1) of Prometheus; 0 lets Docker pick.", Default: "9090", Validate: validPort},
		{Name: GrafanaPort, Group: GroupMonitoring, Doc: "Host port (127.0.0.1) of Grafana; 0 lets Docker pick.", Default: "3000", Validate: validPort},
		{Name: GrafanaPassword, Group: GroupMonitoring, Doc: "Grafana admin password; made by m2mctl init.", Example: "<made by m2mctl init>",
			Secret: true, Generated: true, RequiredWhen: on(PrometheusEnabled), Validate: validPassword},
		{Name: OTELExporterOTLPEndpoint, Group: GroupMonitoring, Doc: "OTLP/HTTP endpoint for traces; with profile tracing use http://jaeger:4318.",
			Example: "http://jaeger:4318", Validate: validURL("http", "https"), Services: connectorOnly},
		{Name: JaegerUIPort, Group: GroupMonitoring, Doc: "Host port (127.0.0.1) of the Jaeger UI (profile tracing); 0 lets Docker pick.",
			Default: "16686", Validate: validPort},

		{Name: ConnectorImage, Group: GroupImages, Doc: "Connector image (built locally by m2mctl when absent).", Default: "m2m/connector:0.1.0",
			Validate: validImage},
		{Name: TigerBeetleImage, Group: GroupImages, Doc: "TigerBeetle image; keep the release equal to the connector's client (" + TigerBeetleRelease + ").",
			Default: "ghcr.io/tigerbeetle/tigerbeetle:" + TigerBeetleRelease, Validate: validImage},
		{Name: PrometheusImage, Group: GroupImages, Doc: "Prometheus image.", Default: "prom/prometheus:v2.53.2", Validate: validImage},
		{Name: GrafanaImage, Group: GroupImages, Doc: "Grafana image.", Default: "grafana/grafana:11.2.0", Validate: validImage},
		{Name: JaegerImage, Group: GroupImages, Doc: "Jaeger all-in-one image (profile tracing).", Default: "jaegertracing/all-in-one:1.60",
			Validate: validImage},
	})
}
