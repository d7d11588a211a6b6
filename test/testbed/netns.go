package testbed

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"time"
)

// The addresses inside a cluster's network namespace. They exist only there,
// so every cluster uses the same ones; only the veth pair's /30 is visible
// from the root namespace and differs per cluster (linkSubnet).
const (
	// PodCIDR holds every node's pod subnet (node i: 10.244.i.0/24).
	PodCIDR = "10.244.0.0/16"
	// KubernetesServiceIP is the first address of ServiceClusterIPRange:
	// the "kubernetes" Service, in the apiserver's certificate.
	KubernetesServiceIP = "10.96.0.1"
	// nsLink is the namespace's end of the veth pair. svcLink holds the
	// route for the service range: one end of a veth pair inside the
	// namespace whose other end, svcSink, stays down, so packets for service
	// IPs kube-proxy has not translated are dropped there (the kernel here
	// has no dummy device).
	nsLink  = "eth0"
	svcLink = "svc0"
	svcSink = "svc0-sink"
)

// network is a cluster's network namespace and its link to the root
// namespace.
type network struct {
	ns       string // name under /run/netns
	hostLink string // the root namespace's end of the veth pair
	hostIP   net.IP // its address: where pods reach servers of the test
	nsIP     net.IP // the namespace's end: apiserver, kubelets, node IP
}

// pickLinkSubnet picks a random /30 in 100.64.0.0/10 (shared address space,
// not routed on the Internet) that overlaps no address or route of the root
// namespace, so two runs (or the machine's own networks) never collide.
func pickLinkSubnet(ctx context.Context) (host, ns net.IP, err error) {
	out, err := exec.CommandContext(ctx, ipBin, "-4", "-o", "route", "show", "table", "all").Output()
	if err != nil {
		return nil, nil, fmt.Errorf("testbed: ip route: %w", err)
	}
	addrs, err := exec.CommandContext(ctx, ipBin, "-4", "-o", "addr", "show").Output()
	if err != nil {
		return nil, nil, fmt.Errorf("testbed: ip addr: %w", err)
	}
	var taken []*net.IPNet
	for _, f := range strings.Fields(string(out) + " " + string(addrs)) {
		if _, n, err := net.ParseCIDR(f); err == nil {
			taken = append(taken, n)
		} else if ip := net.ParseIP(f); ip != nil && ip.To4() != nil {
			taken = append(taken, &net.IPNet{IP: ip, Mask: net.CIDRMask(32, 32)})
		}
	}
	for range 100 {
		var b [4]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, nil, err
		}
		// 100.64.0.0/10: the low 22 bits are ours, minus the /30's 2.
		n := binary.BigEndian.Uint32(b[:])&(1<<22-1)&^3 | 100<<24 | 64<<16
		base := make(net.IP, 4)
		binary.BigEndian.PutUint32(base, n)
		subnet := &net.IPNet{IP: base, Mask: net.CIDRMask(30, 32)}
		free := true
		for _, t := range taken {
			if t.Contains(subnet.IP) || subnet.Contains(t.IP) {
				free = false
				break
			}
		}
		if free {
			h, s := make(net.IP, 4), make(net.IP, 4)
			binary.BigEndian.PutUint32(h, n+1)
			binary.BigEndian.PutUint32(s, n+2)
			return h, s, nil
		}
	}
	return nil, nil, fmt.Errorf("testbed: no free /30 in 100.64.0.0/10")
}

// setupNetwork creates the namespace and its plumbing:
//   - lo up; eth0 (veth to the root namespace's hostLink) with nsIP/30; no
//     default route, so a packet for any other address fails inside;
//   - svc0, a link whose peer is down, holding the route for the service
//     range, so that local processes can connect to a service IP
//     (kube-proxy rewrites it in OUTPUT) and untranslated ones are dropped
//     there;
//   - forwarding on (pods reach the apiserver and each other through it),
//     and pod traffic to the root namespace masqueraded to nsIP, so the root
//     namespace needs no route back and no rule of its own.
func setupNetwork(ctx context.Context, n *network) error {
	steps := [][]string{
		{ipBin, "netns", "add", n.ns},
		{ipBin, "-n", n.ns, "link", "set", "lo", "up"},
		{ipBin, "link", "add", n.hostLink, "type", "veth", "peer", "name", nsLink, "netns", n.ns},
		{ipBin, "addr", "add", n.hostIP.String() + "/30", "dev", n.hostLink},
		{ipBin, "link", "set", n.hostLink, "up"},
		{ipBin, "-n", n.ns, "addr", "add", n.nsIP.String() + "/30", "dev", nsLink},
		{ipBin, "-n", n.ns, "link", "set", nsLink, "up"},
		{ipBin, "-n", n.ns, "link", "add", svcLink, "type", "veth", "peer", "name", svcSink},
		{ipBin, "-n", n.ns, "link", "set", svcLink, "up"},
		{ipBin, "-n", n.ns, "route", "add", ServiceClusterIPRange, "dev", svcLink},
		{ipBin, "netns", "exec", n.ns, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"},
		{ipBin, "netns", "exec", n.ns, iptablesBin, "-w", "-t", "nat", "-A", "POSTROUTING",
			"-s", PodCIDR, "-o", nsLink, "-j", "MASQUERADE"},
	}
	for _, s := range steps {
		if err := run(ctx, s...); err != nil {
			return err
		}
	}
	return nil
}

// deleteNetwork removes the namespace; its end of the veth pair goes with
// it and takes the root namespace's end along, and so do its iptables rules.
func deleteNetwork(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, ipBin, "netns", "delete", name).CombinedOutput()
	if err != nil && !strings.Contains(string(out), "No such file") {
		return fmt.Errorf("testbed: ip netns delete %s: %w: %s", name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// run runs a short command and includes its output in the error.
func run(ctx context.Context, argv ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("testbed: %s: %w: %s", strings.Join(argv, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
