package engine

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
)

// The request bodies are decoded with encoding/json into the fields that
// matter, exactly as the daemon decodes them (field names match case-
// insensitively, the last of duplicate keys wins, unknown fields are
// ignored), so that the plugin sees what the daemon will act on.

// Options of container and service operations (operations.md).
const (
	optPrivileged       = "privileged"
	optHostBindMounts   = "host_bind_mounts"
	optKernelCaps       = "kernel_capabilities"
	optHostNetworking   = "host_networking"
	optBridgeNetworking = "bridge_networking"
	optIPCMode          = "ipc_mode"
	optPIDMode          = "pid_mode"
	optUsernsMode       = "userns_mode"
	optCredentialSpec   = "credential_spec"
	optLocalDriverOpts  = "local_driver_options"
	optAttachable       = "attachable"
	optForce            = "force"
)

type mount struct {
	Type          string
	Source        string
	VolumeOptions *struct {
		DriverConfig *struct {
			Name    string
			Options map[string]string
		}
	}
}

// hostPath reports whether a mount reaches a host directory: a bind, or a
// volume mount whose driver options create a volume on the fly (the local
// driver's o=bind,device=/path is a bind mount by another name).
func (m mount) hostPath() bool {
	if strings.EqualFold(m.Type, "bind") {
		return true
	}
	return m.VolumeOptions != nil && m.VolumeOptions.DriverConfig != nil && len(m.VolumeOptions.DriverConfig.Options) > 0
}

type containerCreateBody struct {
	Labels     map[string]string
	HostConfig *struct {
		Privileged        bool
		Binds             []string
		Mounts            []mount
		CapAdd            []string
		Capabilities      []string
		NetworkMode       string
		IpcMode           string
		PidMode           string
		UsernsMode        string
		Devices           []json.RawMessage
		DeviceCgroupRules []string
		SecurityOpt       []string
	}
}

// volumeName is what the daemon accepts as a named volume; any other bind
// source is a host path.
var volumeName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// containerOptions are the options a container create uses.
//
// Beyond operations.md's list, device access (HostConfig.Devices,
// DeviceCgroupRules) and unconfined security profiles count as
// "privileged": each gives the same reach into the host, and Restricted
// Control promises none of it.
func (b containerCreateBody) options() []string {
	var opts []string
	add := func(o string) {
		if !slices.Contains(opts, o) {
			opts = append(opts, o)
		}
	}
	h := b.HostConfig
	if h == nil {
		return []string{optBridgeNetworking} // the default network mode
	}
	if h.Privileged || len(h.Devices) > 0 || len(h.DeviceCgroupRules) > 0 {
		add(optPrivileged)
	}
	for _, s := range h.SecurityOpt {
		if strings.HasSuffix(strings.ReplaceAll(s, ":", "="), "=unconfined") {
			add(optPrivileged)
		}
	}
	for _, bind := range h.Binds {
		if parts := strings.Split(bind, ":"); len(parts) > 1 && !volumeName.MatchString(parts[0]) {
			add(optHostBindMounts)
		}
	}
	for _, m := range h.Mounts {
		if m.hostPath() {
			add(optHostBindMounts)
		}
	}
	if len(h.CapAdd) > 0 || len(h.Capabilities) > 0 {
		add(optKernelCaps)
	}
	switch h.NetworkMode {
	case "host":
		add(optHostNetworking)
	case "bridge", "default", "":
		// An empty mode is the daemon's default, the bridge.
		add(optBridgeNetworking)
	}
	if h.IpcMode == "host" {
		add(optIPCMode)
	}
	if h.PidMode == "host" {
		add(optPIDMode)
	}
	if h.UsernsMode == "host" {
		add(optUsernsMode)
	}
	return opts
}

type attachment struct{ Target string }

type serviceSpecBody struct {
	Labels       map[string]string
	TaskTemplate struct {
		ContainerSpec *struct {
			Mounts     []mount
			Privileges *struct {
				CredentialSpec json.RawMessage
			}
			Secrets []struct {
				SecretID   string
				SecretName string
			}
			CapabilityAdd []string
		}
		Networks []attachment
	}
	// Networks is the deprecated place for attachments; the daemon still
	// honours it.
	Networks []attachment
}

// networkTargets are the networks a service attaches to.
func (b serviceSpecBody) networkTargets() []string {
	var out []string
	for _, a := range append(slices.Clone(b.TaskTemplate.Networks), b.Networks...) {
		out = append(out, a.Target)
	}
	return out
}

// options are the options a service spec uses, except the network ones,
// which need the attached networks' names.
func (b serviceSpecBody) options() []string {
	var opts []string
	cs := b.TaskTemplate.ContainerSpec
	if cs == nil {
		return nil
	}
	for _, m := range cs.Mounts {
		if m.hostPath() {
			opts = append(opts, optHostBindMounts)
			break
		}
	}
	if cs.Privileges != nil && len(cs.Privileges.CredentialSpec) > 0 && string(cs.Privileges.CredentialSpec) != "null" {
		opts = append(opts, optCredentialSpec)
	}
	return opts
}

// secretRefs are the secrets a service spec references, by ID (or name
// when the ID is missing).
func (b serviceSpecBody) secretRefs() []string {
	if b.TaskTemplate.ContainerSpec == nil {
		return nil
	}
	var out []string
	for _, s := range b.TaskTemplate.ContainerSpec.Secrets {
		if s.SecretID != "" {
			out = append(out, s.SecretID)
		} else {
			out = append(out, s.SecretName)
		}
	}
	return out
}

type networkCreateBody struct {
	Labels     map[string]string
	Attachable bool
}

func (b networkCreateBody) options() []string {
	if b.Attachable {
		return []string{optAttachable}
	}
	return nil
}

type volumeCreateBody struct {
	Labels     map[string]string
	Driver     string
	DriverOpts map[string]string
}

func (b volumeCreateBody) options() []string {
	if (b.Driver == "" || b.Driver == "local") && len(b.DriverOpts) > 0 {
		return []string{optLocalDriverOpts}
	}
	return nil
}

// labelsBody is a create or update whose spec carries only labels that
// matter (secrets, configs, nodes).
type labelsBody struct {
	Labels map[string]string
}

type containerRefBody struct {
	Container string
}

// boolValue reads a query flag the way the daemon does: anything but
// empty, 0, no, false or none is true.
func boolValue(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "0", "no", "false", "none":
		return false
	}
	return true
}
