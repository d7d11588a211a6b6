// Package kubeconfig owns the kubeconfig files Drover hands to users, built
// with client-go's clientcmd types so kubectl reads them exactly.
//
// A kubeconfig has one context per cluster the user may reach, each pointing
// at the cluster's path through Drover (/k8s/clusters/{id}) with the Drover
// CA embedded, and one user entry per cluster holding a dedicated,
// revocable token scoped to that cluster, with a TTL: never a login
// session's token. Minting that token is the caller's
// job; this package only writes the file and must never log its contents.
package kubeconfig
