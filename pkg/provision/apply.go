package provision

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	"github.com/drover-dev/drover/pkg/driver/driverpb"
)

// RESTConfig builds a client config from what a driver returned: the
// endpoint ("https://host:port" or a bare host), the CA (base64 of PEM, as
// kontainer-engine drivers send it, or PEM) and a credential (the service
// account token, else a client certificate, else a username and password).
// It never skips TLS verification: no CA, no config.
func RESTConfig(info *driverpb.ClusterInfo) (*rest.Config, error) {
	host := strings.TrimSpace(info.GetEndpoint())
	if host == "" {
		return nil, errors.New("no endpoint")
	}
	if !strings.Contains(host, "://") {
		host = "https://" + host
	}
	u, err := url.Parse(host)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, errors.New("the endpoint is not an https URL or host")
	}
	ca, err := pemOrBase64(info.GetRootCaCertificate())
	if err != nil {
		return nil, fmt.Errorf("root CA: %w", err)
	}
	if !x509.NewCertPool().AppendCertsFromPEM(ca) {
		return nil, errors.New("root CA: no certificate in it")
	}
	cfg := &rest.Config{Host: u.String(), TLSClientConfig: rest.TLSClientConfig{CAData: ca}, Timeout: 30 * time.Second,
		QPS: 50, Burst: 100, UserAgent: "drover-provisioner"}
	switch {
	case info.GetServiceAccountToken() != "":
		cfg.BearerToken = info.GetServiceAccountToken()
	case info.GetClientCertificate() != "" && info.GetClientKey() != "":
		if cfg.CertData, err = pemOrBase64(info.GetClientCertificate()); err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		if cfg.KeyData, err = pemOrBase64(info.GetClientKey()); err != nil {
			return nil, fmt.Errorf("client key: %w", err)
		}
	case info.GetUsername() != "" && info.GetPassword() != "":
		cfg.Username, cfg.Password = info.GetUsername(), info.GetPassword()
	default:
		return nil, errors.New("no credential (PostCheck must set service_account_token)")
	}
	return cfg, nil
}

func pemOrBase64(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "-----BEGIN") {
		return []byte(s), nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || !bytes.HasPrefix(bytes.TrimSpace(b), []byte("-----BEGIN")) {
		return nil, errors.New("neither PEM nor the base64 of PEM")
	}
	return b, nil
}

// DynamicApplier applies each document of a manifest with server-side apply
// (field manager drover-provisioner), in order, mapping kinds to resources
// through the cluster's discovery. A freshly started apiserver may not
// serve everything at once, so it retries until ctx ends.
type DynamicApplier struct{}

// Apply implements Applier.
func (DynamicApplier) Apply(ctx context.Context, cfg *rest.Config, manifest []byte) error {
	docs, err := splitYAML(manifest)
	if err != nil {
		return err
	}
	var last error
	for {
		if last = applyOnce(ctx, cfg, docs); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %v)", ctx.Err(), last)
		case <-time.After(time.Second):
		}
	}
}

func applyOnce(ctx context.Context, cfg *rest.Config, docs []*unstructured.Unstructured) error {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	groups, err := restmapper.GetAPIGroupResources(dc)
	if err != nil {
		return fmt.Errorf("discovery: %w", err)
	}
	mapper := restmapper.NewDiscoveryRESTMapper(groups)
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	force := true
	for _, u := range docs {
		gvk := u.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return fmt.Errorf("%s %s: %w", gvk.Kind, u.GetName(), err)
		}
		var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			ri = dyn.Resource(m.Resource).Namespace(u.GetNamespace())
		}
		body, err := json.Marshal(u.Object)
		if err != nil {
			return err
		}
		if _, err := ri.Patch(ctx, u.GetName(), types.ApplyPatchType, body,
			metav1.PatchOptions{FieldManager: "drover-provisioner", Force: &force}); err != nil {
			return fmt.Errorf("apply %s %s/%s: %w", gvk.Kind, u.GetNamespace(), u.GetName(), err)
		}
	}
	return nil
}

func splitYAML(b []byte) ([]*unstructured.Unstructured, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	var out []*unstructured.Unstructured
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		obj := map[string]any{}
		if err := yaml.Unmarshal(doc, &obj); err != nil {
			return nil, fmt.Errorf("manifest: %w", err)
		}
		if len(obj) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: obj})
	}
}
