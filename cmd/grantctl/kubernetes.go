package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"

	v1 "github.com/grantd/grantd/proto/grantd/v1"
	"github.com/grantd/grantd/subjects"
)

// The paths grantd serves kube-apiserver's webhooks on (server/kubernetes.go).
const (
	kubeAuthorizePath = "/kubernetes/authorize"
	kubeAdmitPath     = "/kubernetes/admit"
)

func newKubernetesCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "kubernetes", Aliases: []string{"k8s"},
		Short: "Configuration for kube-apiserver: grantd as its authorization and admission webhook"}
	var k kubeFlags
	webhook := &cobra.Command{Use: "webhook-config", Args: cobra.NoArgs,
		Short: "Print the kubeconfig for kube-apiserver's --authorization-webhook-config-file (also its admission webhook credential)",
		Long: `Print a kubeconfig that points kube-apiserver at grantd's authorization webhook.

kube-apiserver authenticates to grantd with an API token of a service account
holding the authorize capability. With --service-account the command makes a
new token for it (system admins); with --token-file it uses one you made.
The same file serves as the kubeConfigFile of the ValidatingAdmissionWebhook
plugin (see admission-config --plugin-config): kube-apiserver falls back to
its current context for webhooks it has no entry for.`,
		Example: "  grantctl sa create kube-apiserver --capability authorize\n" +
			"  grantctl kubernetes webhook-config --service-account kube-apiserver --url https://grantd.example:8443 > grantd-webhook.kubeconfig",
		RunE: func(cmd *cobra.Command, _ []string) error {
			base, ca, err := k.endpoint(g)
			if err != nil {
				return err
			}
			token, err := k.token(g, cmd)
			if err != nil {
				return err
			}
			_, err = fmt.Fprint(cmd.OutOrStdout(), kubeconfig(base+kubeAuthorizePath, ca, token))
			return err
		}}
	k.addEndpoint(webhook)
	webhook.Flags().StringVar(&k.serviceAccount, "service-account", "", "make a new API token for this service account (it needs the authorize capability)")
	webhook.Flags().StringVar(&k.tokenFile, "token-file", "", "use the API token in this file instead")
	var pluginConfig string
	admission := &cobra.Command{Use: "admission-config", Args: cobra.NoArgs,
		Short: "Print the ValidatingWebhookConfiguration that sends pods and workloads to grantd (kubectl apply -f -)",
		Long: `Print the ValidatingWebhookConfiguration for grantd's admission webhook: pods
and the pod templates of Deployments, StatefulSets, DaemonSets, ReplicaSets,
ReplicationControllers, Jobs and CronJobs asking for host namespaces,
privileges, added capabilities or hostPath volumes need container.create
with the matching options in their namespace.

With --plugin-config KUBECONFIG it prints instead the AdmissionConfiguration
for kube-apiserver's --admission-control-config-file, which gives the
webhook calls the credential in KUBECONFIG (from webhook-config).`,
		Example: "  grantctl kubernetes admission-config --url https://grantd.example:8443 | kubectl apply -f -\n" +
			"  grantctl kubernetes admission-config --plugin-config /etc/kubernetes/grantd-webhook.kubeconfig > admission.yaml",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if pluginConfig != "" {
				_, err := fmt.Fprint(cmd.OutOrStdout(), admissionConfiguration(pluginConfig))
				return err
			}
			base, ca, err := k.endpoint(g)
			if err != nil {
				return err
			}
			_, err = fmt.Fprint(cmd.OutOrStdout(), validatingWebhook(base+kubeAdmitPath, ca, k.failOpen))
			return err
		}}
	k.addEndpoint(admission)
	admission.Flags().StringVar(&pluginConfig, "plugin-config", "", "print the AdmissionConfiguration naming this kubeconfig instead")
	admission.Flags().BoolVar(&k.failOpen, "fail-open", false, "admit pods when grantd cannot be reached (failurePolicy: Ignore); the default refuses them")
	cmd.AddCommand(webhook, admission)
	return cmd
}

type kubeFlags struct {
	url            string
	serviceAccount string
	tokenFile      string
	failOpen       bool
}

func (k *kubeFlags) addEndpoint(c *cobra.Command) {
	c.Flags().StringVar(&k.url, "url", "", "grantd's address as kube-apiserver reaches it, https://host:port (default: the --server of grantctl)")
}

// endpoint is grantd's base URL and the PEM of the CA to trust for it
// (empty: the system roots).
func (k *kubeFlags) endpoint(g *globals) (base string, ca []byte, err error) {
	t, err := g.target()
	if err != nil {
		return "", nil, err
	}
	base = k.url
	if base == "" {
		first, _, _ := strings.Cut(t.Server, ",")
		base = "https://" + first
	}
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.Path != "" && u.Path != "/" {
		return "", nil, fmt.Errorf("--url must be https://host:port, not %q", base)
	}
	if _, _, err := net.SplitHostPort(u.Host); err != nil {
		u.Host = net.JoinHostPort(u.Host, "443")
	}
	if t.CACert != "" {
		if ca, err = os.ReadFile(t.CACert); err != nil {
			return "", nil, fmt.Errorf("reading the CA certificate: %w", err)
		}
	}
	return "https://" + u.Host, ca, nil
}

// token is the API token kube-apiserver presents: read from --token-file,
// or made now for --service-account.
func (k *kubeFlags) token(g *globals, cmd *cobra.Command) (string, error) {
	switch {
	case k.tokenFile != "" && k.serviceAccount != "":
		return "", fmt.Errorf("give --service-account or --token-file, not both")
	case k.tokenFile != "":
		b, err := os.ReadFile(k.tokenFile)
		if err != nil {
			return "", err
		}
		return strings.TrimSpace(string(b)), nil
	case k.serviceAccount == "":
		return "", fmt.Errorf("give --service-account NAME (a service account with the authorize capability) or --token-file")
	}
	var secret string
	err := run(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.CreateAPITokenResponse, error) {
		sa, err := v1.NewServiceAccountServiceClient(c).GetServiceAccount(ctx, &v1.GetServiceAccountRequest{Name: k.serviceAccount})
		if err != nil {
			return nil, err
		}
		if !slices.Contains(sa.GetCapabilities(), "authorize") {
			return nil, fmt.Errorf("service account %s lacks the authorize capability, without which grantd refuses its reviews: grantctl sa update %s --capability authorize",
				k.serviceAccount, k.serviceAccount)
		}
		return v1.NewTokenServiceClient(c).CreateAPIToken(ctx, &v1.CreateAPITokenRequest{
			Name: "kube-apiserver", Owner: subjects.OfServiceAccount(k.serviceAccount).String()})
	}, func(_ io.Writer, r *v1.CreateAPITokenResponse) error {
		secret = r.GetSecret()
		fmt.Fprintf(os.Stderr, "Created API token %s for %s; it is in the kubeconfig only.\n", r.GetToken().GetId(), r.GetToken().GetOwner())
		return nil
	})
	return secret, err
}

// q quotes a string for YAML (a JSON string is a YAML double-quoted scalar).
func q(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func kubeconfig(server string, ca []byte, token string) string {
	var b strings.Builder
	b.WriteString("# kube-apiserver --authorization-webhook-config-file (and the admission webhook's kubeConfigFile).\n")
	b.WriteString("# It holds an API token of grantd: keep it readable by kube-apiserver only.\n")
	b.WriteString("apiVersion: v1\nkind: Config\nclusters:\n- name: grantd\n  cluster:\n    server: " + q(server) + "\n")
	if len(ca) > 0 {
		b.WriteString("    certificate-authority-data: " + q(base64.StdEncoding.EncodeToString(ca)) + "\n")
	}
	b.WriteString("users:\n- name: grantd\n  user:\n    token: " + q(token) + "\n")
	b.WriteString("contexts:\n- name: grantd\n  context:\n    cluster: grantd\n    user: grantd\ncurrent-context: grantd\n")
	return b.String()
}

func validatingWebhook(url string, ca []byte, failOpen bool) string {
	policy := "Fail"
	if failOpen {
		policy = "Ignore"
	}
	var b strings.Builder
	b.WriteString("apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingWebhookConfiguration\nmetadata:\n  name: grantd\nwebhooks:\n")
	b.WriteString("- name: pods.grantd.io\n  admissionReviewVersions: [\"v1\"]\n  sideEffects: None\n  failurePolicy: " + policy + "\n  timeoutSeconds: 5\n")
	b.WriteString("  clientConfig:\n    url: " + q(url) + "\n")
	if len(ca) > 0 {
		b.WriteString("    caBundle: " + q(base64.StdEncoding.EncodeToString(ca)) + "\n")
	}
	b.WriteString(`  rules:
  - apiGroups: [""]
    apiVersions: ["v1"]
    operations: ["CREATE", "UPDATE"]
    resources: ["pods", "pods/ephemeralcontainers", "podtemplates", "replicationcontrollers"]
  - apiGroups: ["apps"]
    apiVersions: ["v1"]
    operations: ["CREATE", "UPDATE"]
    resources: ["deployments", "statefulsets", "daemonsets", "replicasets"]
  - apiGroups: ["batch"]
    apiVersions: ["v1"]
    operations: ["CREATE", "UPDATE"]
    resources: ["jobs", "cronjobs"]
`)
	return b.String()
}

func admissionConfiguration(kubeconfigPath string) string {
	return `# kube-apiserver --admission-control-config-file: the credential of grantd's admission webhook.
apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
- name: ValidatingAdmissionWebhook
  configuration:
    apiVersion: apiserver.config.k8s.io/v1
    kind: WebhookAdmissionConfiguration
    kubeConfigFile: ` + q(kubeconfigPath) + "\n"
}
