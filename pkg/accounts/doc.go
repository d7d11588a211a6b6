// Package accounts owns the credentials the server forwards users'
// requests with: one impersonation account per identity in each cluster.
//
// Why: a single account that may impersonate anyone is cluster-admin (it
// can add system:masters to any request); whoever takes its token from the
// server's memory owns the cluster. Instead every forwarded identity (a
// Drover user as themself, or an identity a user was allowed to act as with
// kubectl --as) gets a ServiceAccount in cattle-system whose ClusterRole lets
// it impersonate exactly that user, those groups and Drover's extras, by
// resourceNames (package downstream writes the rules). A token of Bob's
// account can act as Bob and nothing else.
//
// The server creates the accounts and mints their tokens (1 h, renewed in
// the background past half their life) through the cluster agent's session
// with the controller's credential; they are cached in memory. A node
// agent's session only carries requests with a token already cached: when
// the cluster agent is gone, each identity is served until its cached token
// expires (1 h after it was minted or last renewed), then gets 503.
//
// What an account may never act as (Check): system:masters or any system:
// group but system:authenticated, any system: or drover: user (the
// controller, nodes, ServiceAccounts), Drover's admin group unless the
// Drover user is a global admin, extras other than Drover's own. Accounts of
// users who can no longer reach the cluster, or whose identity changed, are
// deleted by the cluster controller (Sweep); accounts for kubectl --as after
// a day.
//
// This package must never create an account for an identity Check refuses,
// mint through a node agent's session, or log a token.
package accounts
