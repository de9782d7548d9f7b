package e2e

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestClusterFormedWithJoinTokens: node1 founds a cluster alone and makes
// the cluster CA; grantctl makes join tokens; node2 and node3 join as
// voters (node3 through a follower) and node4 as a read replica, each
// with a certificate the cluster signs for its own key. Forged and
// revoked tokens admit nobody. The cluster formed this way then loses its
// leader to kill -9 under load like any other.
func TestClusterFormedWithJoinTokens(t *testing.T) {
	cn := newClusterNet(t, 4)
	c := &cluster{net: cn, dir: t.TempDir()}
	for i := 1; i <= 4; i++ {
		c.dirs = append(c.dirs, filepath.Join(c.dir, fmt.Sprintf("node%d", i)))
	}
	c.shareAPICA(t)
	// Each node has its own certificates directory, empty at first.
	certs := func(i int) string { return filepath.Join(c.dir, fmt.Sprintf("node%d-certs", i)) }
	start := func(i int, env string, extra ...string) (*grantd, error) {
		args := append([]string{"--listen", cn.apiIP(i) + ":8443", "--tls-san", cn.apiIP(i), "--node-id", fmt.Sprintf("node%d", i),
			"--cluster-listen", cn.clusterAddr(i), "--cluster-certs-dir", certs(i)}, extra...)
		return launch(t, []string{"nsenter", "--net=/var/run/netns/" + cn.ns[i-1]}, c.dirs[i-1], env, args...)
	}
	n1, err := start(1, "GRANTD_ADMIN_PASSWORD="+adminPassword, "--cluster-peers", "node1="+cn.clusterAddr(1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(certs(1), "cluster-ca-key.pem")); err != nil {
		t.Fatalf("node1 made no cluster CA: %v", err)
	}
	c.nodes = []*grantd{n1}
	c.token = n1.login(t)

	admin := newCtl(t)
	if out, code := admin.run(adminPassword+"\n", "login", "--server", n1.addr, "--ca-cert", c.apiCA,
		"-u", "admin", "--password-stdin"); code != 0 {
		t.Fatalf("login: %d %s", code, out)
	}
	joinToken := func(args ...string) string {
		out := admin.ok(append([]string{"cluster", "join-token"}, args...)...)
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, "GRANTDJOIN1.") {
				return line
			}
		}
		t.Fatalf("grantctl cluster join-token printed no token:\n%s", out)
		return ""
	}
	voters, replicas, revoked := joinToken(), joinToken("--read-replica", "--ttl-hours", "1"), joinToken()

	// A token whose secret is wrong, and a revoked one, admit nobody.
	parts := strings.Split(voters, ".")
	secret, _ := base64.RawURLEncoding.DecodeString(parts[2])
	secret[0] ^= 1
	forged := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(secret)
	admin.ok("cluster", "revoke-join-token", strings.Split(revoked, ".")[1])
	for name, tok := range map[string]string{"forged": forged, "revoked": revoked} {
		if g, err := start(4, "GRANTD_JOIN_TOKEN="+tok, "--join", n1.addr); err == nil {
			g.kill()
			t.Fatalf("a %s join token admitted node4", name)
		} else if !strings.Contains(err.Error(), "join refused") {
			t.Fatalf("the %s token: %v", name, err)
		}
		if _, err := os.Stat(filepath.Join(certs(4), "node4.pem")); err == nil {
			t.Fatalf("the %s token left node4 a certificate", name)
		}
	}
	if out := n1.must(t, 200, "GET", "/v1/cluster", c.token, nil); len(out["members"].([]any)) != 1 {
		t.Fatalf("refused joins changed the members: %v", out["members"])
	}

	// node2 joins through node1 (the leader), node3 through node2 (a
	// follower), both as voters; node4 as a read replica, its token in a
	// file.
	n2, err := start(2, "GRANTD_JOIN_TOKEN="+voters, "--join", n1.addr)
	if err != nil {
		t.Fatal(err)
	}
	n3, err := start(3, "GRANTD_JOIN_TOKEN="+voters, "--join", "10.255.255.1:8443,"+n2.addr) // the first address is dead
	if err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(c.dir, "replica-token")
	if err := os.WriteFile(tokenFile, []byte(replicas+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	n4, err := start(4, "", "--join", n1.addr, "--join-token-file", tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	c.nodes = append(c.nodes, n2, n3, n4)
	want := "node1 voter, node2 voter, node3 voter, node4 replica"
	var got string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		out := n3.must(t, 200, "GET", "/v1/cluster", c.token, nil)
		var ms []string
		for _, m := range out["members"].([]any) {
			m := m.(map[string]any)
			role := "replica"
			if m["voter"] == true {
				role = "voter"
			}
			ms = append(ms, m["id"].(string)+" "+role)
		}
		if got = strings.Join(ms, ", "); got == want {
			break
		}
	}
	if got != want {
		t.Fatalf("members: %s, want %s", got, want)
	}
	// A node that joined restarts with the certificate it got, without
	// joining again.
	n4.stop()
	if n4, err = start(4, "", "--join", n1.addr); err != nil {
		t.Fatal(err)
	}
	c.nodes[3] = n4
	if !strings.Contains(n4.logs.String(), "not joining again") {
		t.Error("node4 did not say it kept its certificate")
	}

	// The cluster formed this way survives losing its leader under load.
	all := []int{0, 1, 2, 3}
	leader := c.leader(t, all)
	l := startLoad(c, all)
	t.Cleanup(l.end)
	time.Sleep(2 * time.Second)
	l.drop(leader)
	killed := time.Now()
	c.nodes[leader].kill()
	time.Sleep(5 * time.Second)
	l.end()
	l.report(t, "kill -9 of the leader of a cluster formed by join tokens")
	var survivors []int
	for _, i := range all {
		if i != leader {
			survivors = append(survivors, i)
		}
	}
	if resumed := l.firstAckAfter(killed); resumed < 0 || resumed > 5*time.Second {
		t.Fatalf("writes resumed %v after the kill (target 5 s)", resumed)
	}
	c.checkAcked(t, l, survivors)
	l.checkLinearizable(t)
}
