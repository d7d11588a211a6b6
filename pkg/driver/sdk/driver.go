package sdk

import (
	"context"
	"errors"

	"github.com/drover-dev/drover/pkg/driver/driverpb"
)

// The protocol's messages, under shorter names.
type (
	DriverFlags       = driverpb.DriverFlags
	Flag              = driverpb.Flag
	Default           = driverpb.Default
	StringSlice       = driverpb.StringSlice
	DriverOptions     = driverpb.DriverOptions
	ClusterInfo       = driverpb.ClusterInfo
	KubernetesVersion = driverpb.KubernetesVersion
	NodeCount         = driverpb.NodeCount
	Capabilities      = driverpb.Capabilities
	K8SCapabilities   = driverpb.K8SCapabilities
)

// Flag types (Flag.Type).
const (
	StringType      = "string"
	BoolType        = "bool"
	BoolPointerType = "boolPtr"
	IntType         = "int"
	IntPointerType  = "intPtr"
	StringSliceType = "stringSlice"
)

// Capabilities a driver may report (keys of Capabilities.Capabilities).
const (
	GetVersionCapability     = int64(driverpb.Capability_GET_VERSION)
	SetVersionCapability     = int64(driverpb.Capability_SET_VERSION)
	GetClusterSizeCapability = int64(driverpb.Capability_GET_CLUSTER_SIZE)
	SetClusterSizeCapability = int64(driverpb.Capability_SET_CLUSTER_SIZE)
	EtcdBackupCapability     = int64(driverpb.Capability_ETCD_BACKUP)
)

// Driver is what a cluster driver implements; see driver.proto for what
// each call must do.
type Driver interface {
	GetDriverCreateOptions(ctx context.Context) (*DriverFlags, error)
	GetDriverUpdateOptions(ctx context.Context) (*DriverFlags, error)

	Create(ctx context.Context, opts *DriverOptions, info *ClusterInfo) (*ClusterInfo, error)
	Update(ctx context.Context, info *ClusterInfo, opts *DriverOptions) (*ClusterInfo, error)
	PostCheck(ctx context.Context, info *ClusterInfo) (*ClusterInfo, error)
	Remove(ctx context.Context, info *ClusterInfo) error

	GetVersion(ctx context.Context, info *ClusterInfo) (*KubernetesVersion, error)
	SetVersion(ctx context.Context, info *ClusterInfo, version *KubernetesVersion) error
	GetClusterSize(ctx context.Context, info *ClusterInfo) (*NodeCount, error)
	SetClusterSize(ctx context.Context, info *ClusterInfo, count *NodeCount) error

	GetCapabilities(ctx context.Context) (*Capabilities, error)

	RemoveLegacyServiceAccount(ctx context.Context, info *ClusterInfo) error

	ETCDSave(ctx context.Context, info *ClusterInfo, opts *DriverOptions, snapshotName string) error
	ETCDRestore(ctx context.Context, info *ClusterInfo, opts *DriverOptions, snapshotName string) (*ClusterInfo, error)
	ETCDRemoveSnapshot(ctx context.Context, info *ClusterInfo, opts *DriverOptions, snapshotName string) error

	GetK8SCapabilities(ctx context.Context, opts *DriverOptions) (*K8SCapabilities, error)
}

// ErrNotImplemented is what the Unimplemented helpers return; the server
// answers it with gRPC code Unimplemented.
var ErrNotImplemented = errors.New("not implemented by this driver")

// UnimplementedVersionAccess answers GetVersion and SetVersion with
// ErrNotImplemented. Embed it in a driver that cannot do them.
type UnimplementedVersionAccess struct{}

func (UnimplementedVersionAccess) GetVersion(context.Context, *ClusterInfo) (*KubernetesVersion, error) {
	return nil, ErrNotImplemented
}

func (UnimplementedVersionAccess) SetVersion(context.Context, *ClusterInfo, *KubernetesVersion) error {
	return ErrNotImplemented
}

// UnimplementedClusterSizeAccess answers GetClusterSize and SetClusterSize
// with ErrNotImplemented.
type UnimplementedClusterSizeAccess struct{}

func (UnimplementedClusterSizeAccess) GetClusterSize(context.Context, *ClusterInfo) (*NodeCount, error) {
	return nil, ErrNotImplemented
}

func (UnimplementedClusterSizeAccess) SetClusterSize(context.Context, *ClusterInfo, *NodeCount) error {
	return ErrNotImplemented
}

// UnimplementedETCD answers the three etcd snapshot calls with
// ErrNotImplemented, never with a silent success.
type UnimplementedETCD struct{}

func (UnimplementedETCD) ETCDSave(context.Context, *ClusterInfo, *DriverOptions, string) error {
	return ErrNotImplemented
}

func (UnimplementedETCD) ETCDRestore(context.Context, *ClusterInfo, *DriverOptions, string) (*ClusterInfo, error) {
	return nil, ErrNotImplemented
}

func (UnimplementedETCD) ETCDRemoveSnapshot(context.Context, *ClusterInfo, *DriverOptions, string) error {
	return ErrNotImplemented
}

// NoLegacyServiceAccount implements RemoveLegacyServiceAccount as the no-op
// every driver but Rancher's built-in ones needs.
type NoLegacyServiceAccount struct{}

func (NoLegacyServiceAccount) RemoveLegacyServiceAccount(context.Context, *ClusterInfo) error {
	return nil
}

// NoK8SCapabilities reports an empty K8SCapabilities.
type NoK8SCapabilities struct{}

func (NoK8SCapabilities) GetK8SCapabilities(context.Context, *DriverOptions) (*K8SCapabilities, error) {
	return &K8SCapabilities{}, nil
}
