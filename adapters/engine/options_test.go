package engine

import (
	"encoding/json"
	"slices"
	"testing"
)

func TestContainerOptions(t *testing.T) {
	cases := []struct {
		body string
		want []string
	}{
		{`{}`, []string{"bridge_networking"}},
		{`{"HostConfig":{"NetworkMode":"default"}}`, []string{"bridge_networking"}},
		{`{"HostConfig":{"NetworkMode":"my-overlay"}}`, nil},
		{`{"HostConfig":{"NetworkMode":"host"}}`, []string{"host_networking"}},
		{`{"HostConfig":{"Privileged":true,"NetworkMode":"none"}}`, []string{"privileged"}},
		// encoding/json matches field names case-insensitively, as the daemon does.
		{`{"hostconfig":{"privileged":true,"networkmode":"none"}}`, []string{"privileged"}},
		// The last of duplicate keys wins, as in the daemon.
		{`{"HostConfig":{"Privileged":false,"Privileged":true,"NetworkMode":"none"}}`, []string{"privileged"}},
		{`{"HostConfig":{"Binds":["/etc:/host-etc:ro"],"NetworkMode":"none"}}`, []string{"host_bind_mounts"}},
		{`{"HostConfig":{"Binds":["data:/data","/anonymous"],"NetworkMode":"none"}}`, nil},
		{`{"HostConfig":{"Binds":["./rel:/x"],"NetworkMode":"none"}}`, []string{"host_bind_mounts"}},
		{`{"HostConfig":{"Mounts":[{"Type":"bind","Source":"/","Target":"/host"}],"NetworkMode":"none"}}`, []string{"host_bind_mounts"}},
		{`{"HostConfig":{"Mounts":[{"Type":"volume","Source":"v","Target":"/v"}],"NetworkMode":"none"}}`, nil},
		{`{"HostConfig":{"Mounts":[{"Type":"volume","Target":"/v","VolumeOptions":{"DriverConfig":{"Name":"local","Options":{"o":"bind","device":"/etc"}}}}],"NetworkMode":"none"}}`, []string{"host_bind_mounts"}},
		{`{"HostConfig":{"CapAdd":["SYS_ADMIN"],"NetworkMode":"none"}}`, []string{"kernel_capabilities"}},
		{`{"HostConfig":{"IpcMode":"host","PidMode":"host","UsernsMode":"host","NetworkMode":"none"}}`, []string{"ipc_mode", "pid_mode", "userns_mode"}},
		{`{"HostConfig":{"IpcMode":"private","PidMode":"container:x","NetworkMode":"none"}}`, nil},
		{`{"HostConfig":{"Devices":[{"PathOnHost":"/dev/sda","PathInContainer":"/dev/sda"}],"NetworkMode":"none"}}`, []string{"privileged"}},
		{`{"HostConfig":{"SecurityOpt":["seccomp=unconfined"],"NetworkMode":"none"}}`, []string{"privileged"}},
		{`{"HostConfig":{"SecurityOpt":["apparmor:unconfined"],"NetworkMode":"none"}}`, []string{"privileged"}},
		{`{"HostConfig":{"SecurityOpt":["no-new-privileges"],"NetworkMode":"none"}}`, nil},
	}
	for _, c := range cases {
		var b containerCreateBody
		if err := json.Unmarshal([]byte(c.body), &b); err != nil {
			t.Fatal(err)
		}
		got := b.options()
		slices.Sort(got)
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: options %v, want %v", c.body, got, c.want)
		}
	}
}

func TestOtherOptions(t *testing.T) {
	var s serviceSpecBody
	body := `{"Labels":{"a":"b"},"TaskTemplate":{"ContainerSpec":{"Mounts":[{"Type":"bind","Source":"/var/run/docker.sock"}],
		"Privileges":{"CredentialSpec":{"File":"spec.json"}},"Secrets":[{"SecretID":"s1"},{"SecretName":"s2"}]},
		"Networks":[{"Target":"host"}]},"Networks":[{"Target":"n1"}]}`
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatal(err)
	}
	if got := s.options(); !slices.Equal(got, []string{"host_bind_mounts", "credential_spec"}) {
		t.Errorf("service options %v", got)
	}
	if got := s.secretRefs(); !slices.Equal(got, []string{"s1", "s2"}) {
		t.Errorf("secret refs %v", got)
	}
	if got := s.networkTargets(); !slices.Equal(got, []string{"host", "n1"}) {
		t.Errorf("network targets %v", got)
	}
	var n networkCreateBody
	_ = json.Unmarshal([]byte(`{"Attachable":true}`), &n)
	if !slices.Equal(n.options(), []string{"attachable"}) {
		t.Errorf("network options %v", n.options())
	}
	for body, want := range map[string]bool{
		`{"DriverOpts":{"o":"bind"}}`:                    true,
		`{"Driver":"local","DriverOpts":{"o":"bind"}}`:   true,
		`{"Driver":"nfs-plugin","DriverOpts":{"x":"y"}}`: false,
		`{"Driver":"local"}`:                             false,
	} {
		var v volumeCreateBody
		_ = json.Unmarshal([]byte(body), &v)
		if got := len(v.options()) > 0; got != want {
			t.Errorf("%s: local_driver_options %v, want %v", body, got, want)
		}
	}
	for v, want := range map[string]bool{"1": true, "true": true, "True": true, "": false, "0": false, "no": false, "none": false} {
		if boolValue(v) != want {
			t.Errorf("boolValue(%q) = %v", v, !want)
		}
	}
}
