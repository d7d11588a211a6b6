package harness

import (
	"context"
	"fmt"
	"net/http"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// CreateProject creates a project in a cluster and returns its id.
// (Bindings: CreateBinding and DeleteBinding in providers.go.)
func (s *Server) CreateProject(ctx context.Context, bearer, clusterID, name string, namespaces []string) (string, error) {
	var out struct{ ID string }
	err := s.Do(ctx, http.MethodPost, "/v3/clusters/"+clusterID+"/projects", bearer,
		map[string]any{"name": name, "namespaces": namespaces}, &out)
	if err != nil {
		return "", fmt.Errorf("create project %s: %w", name, err)
	}
	return out.ID, nil
}

// ProxyConfig is a client-go config that reaches a cluster through the
// server's proxy with a bearer token.
func (s *Server) ProxyConfig(clusterID, bearer string) *rest.Config {
	return &rest.Config{
		Host:            s.URL + "/k8s/clusters/" + clusterID,
		BearerToken:     bearer,
		TLSClientConfig: rest.TLSClientConfig{CAData: s.CAPEM},
		QPS:             50,
		Burst:           100,
	}
}

// AggregateClusterRoles fills the aggregated ClusterRoles view, edit and
// admin the way kube-controller-manager's clusterrole-aggregation
// controller does (the testbed runs no controller-manager, so they have no
// rules): each gets the union of the rules of the ClusterRoles its
// aggregationRule selects. Order matters: edit aggregates view, admin edit.
func AggregateClusterRoles(ctx context.Context, cs kubernetes.Interface) error {
	for _, name := range []string{"view", "edit", "admin"} {
		role, err := cs.RbacV1().ClusterRoles().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("aggregate %s: %w", name, err)
		}
		if role.AggregationRule == nil {
			continue
		}
		var rules []rbacv1.PolicyRule
		for _, sel := range role.AggregationRule.ClusterRoleSelectors {
			s, err := metav1.LabelSelectorAsSelector(&sel)
			if err != nil {
				return fmt.Errorf("aggregate %s: %w", name, err)
			}
			parts, err := cs.RbacV1().ClusterRoles().List(ctx, metav1.ListOptions{LabelSelector: s.String()})
			if err != nil {
				return fmt.Errorf("aggregate %s: %w", name, err)
			}
			for _, p := range parts.Items {
				if p.Name != name {
					rules = append(rules, p.Rules...)
				}
			}
		}
		role.Rules = rules
		if _, err := cs.RbacV1().ClusterRoles().Update(ctx, role, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("aggregate %s: %w", name, err)
		}
	}
	return nil
}
