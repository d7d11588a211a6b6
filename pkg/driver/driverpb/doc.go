// Package driverpb is the cluster driver protocol: the gRPC service Drover
// calls on a driver binary (driver.proto) and the Go code protoc generates
// from it (driver.pb.go, driver_grpc.pb.go, committed; regenerate with
// `make -f mk/proto.mk proto`, never by hand).
//
// The service mirrors kontainer-engine's Driver service so that a Rancher
// hosted-cluster driver ports with little change. Credentials travel in
// ClusterInfo (service_account_token, password, client_key and whatever a
// driver keeps in metadata), so the transport is private: the launcher in
// package driver serves it on a unix socket in a directory only the server
// can enter, or, for drivers that only understand a port, on 127.0.0.1.
//
// This package must never hold logic: it is the wire format only. Helpers for
// driver authors are in package sdk, the server side's use in package driver.
package driverpb
