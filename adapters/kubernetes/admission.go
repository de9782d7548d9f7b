package kubernetes

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/grantd/grantd/authz"
)

const admissionV1 = "admission.k8s.io/v1"

// admissionReview is an AdmissionReview of admission.k8s.io/v1, with the
// parts of the request the webhook reads.
type admissionReview struct {
	APIVersion string             `json:"apiVersion"`
	Kind       string             `json:"kind"`
	Request    *admissionRequest  `json:"request,omitempty"`
	Response   *admissionResponse `json:"response,omitempty"`
}

type admissionRequest struct {
	UID       string           `json:"uid"`
	Kind      groupVersionKind `json:"kind"`
	Namespace string           `json:"namespace,omitempty"`
	Operation string           `json:"operation"`
	UserInfo  struct {
		Username string   `json:"username"`
		Groups   []string `json:"groups"`
	} `json:"userInfo"`
	Object json.RawMessage `json:"object,omitempty"`
}

type groupVersionKind struct {
	Group   string `json:"group"`
	Version string `json:"version"`
	Kind    string `json:"kind"`
}

type admissionResponse struct {
	UID     string  `json:"uid"`
	Allowed bool    `json:"allowed"`
	Status  *status `json:"status,omitempty"`
}

type status struct {
	Code    int    `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// The parts of a pod spec that ask for more than a plain container.
type podSpec struct {
	HostNetwork         bool        `json:"hostNetwork"`
	HostPID             bool        `json:"hostPID"`
	HostIPC             bool        `json:"hostIPC"`
	Containers          []container `json:"containers"`
	InitContainers      []container `json:"initContainers"`
	EphemeralContainers []container `json:"ephemeralContainers"`
	Volumes             []struct {
		Name     string          `json:"name"`
		HostPath json.RawMessage `json:"hostPath"`
	} `json:"volumes"`
}

type container struct {
	Name            string `json:"name"`
	SecurityContext *struct {
		Privileged               *bool `json:"privileged"`
		AllowPrivilegeEscalation *bool `json:"allowPrivilegeEscalation"`
		Capabilities             *struct {
			Add []string `json:"add"`
		} `json:"capabilities"`
	} `json:"securityContext"`
}

type podTemplate struct {
	Spec podSpec `json:"spec"`
}

// podSpecOf finds the pod spec in the objects that carry one: pods, the
// workload controllers' templates, and a CronJob's job template. ok is
// false for other kinds, which the webhook lets through.
func podSpecOf(kind groupVersionKind, raw json.RawMessage) (spec podSpec, ok bool, err error) {
	switch {
	case kind.Group == "" && kind.Kind == "Pod":
		var p struct {
			Spec podSpec `json:"spec"`
		}
		err = json.Unmarshal(raw, &p)
		return p.Spec, true, err
	case kind.Group == "" && kind.Kind == "PodTemplate":
		var p struct {
			Template podTemplate `json:"template"`
		}
		err = json.Unmarshal(raw, &p)
		return p.Template.Spec, true, err
	case kind.Group == "apps" && slices.Contains([]string{"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"}, kind.Kind),
		kind.Group == "batch" && kind.Kind == "Job",
		kind.Group == "" && kind.Kind == "ReplicationController":
		var w struct {
			Spec struct {
				Template podTemplate `json:"template"`
			} `json:"spec"`
		}
		err = json.Unmarshal(raw, &w)
		return w.Spec.Template.Spec, true, err
	case kind.Group == "batch" && kind.Kind == "CronJob":
		var c struct {
			Spec struct {
				JobTemplate struct {
					Spec struct {
						Template podTemplate `json:"template"`
					} `json:"spec"`
				} `json:"jobTemplate"`
			} `json:"spec"`
		}
		err = json.Unmarshal(raw, &c)
		return c.Spec.JobTemplate.Spec.Template.Spec, true, err
	}
	return podSpec{}, false, nil
}

// requested lists what a pod spec asks for beyond a plain container, as
// container.create's options, each with the fields that ask for it.
func requested(s podSpec) map[string][]string {
	out := map[string][]string{}
	add := func(option, why string) { out[option] = append(out[option], why) }
	if s.HostNetwork {
		add("host_networking", "hostNetwork")
	}
	if s.HostPID {
		add("pid_mode", "hostPID")
	}
	if s.HostIPC {
		add("ipc_mode", "hostIPC")
	}
	for _, v := range s.Volumes {
		if len(v.HostPath) > 0 && string(v.HostPath) != "null" {
			add("host_bind_mounts", "hostPath volume "+v.Name)
		}
	}
	for _, cs := range [][]container{s.InitContainers, s.Containers, s.EphemeralContainers} {
		for _, c := range cs {
			sc := c.SecurityContext
			if sc == nil {
				continue
			}
			if sc.Privileged != nil && *sc.Privileged {
				add("privileged", "privileged container "+c.Name)
			}
			// Only an explicit true: Kubernetes' default is allowed, but
			// the request did not ask for it.
			if sc.AllowPrivilegeEscalation != nil && *sc.AllowPrivilegeEscalation {
				add("privileged", "allowPrivilegeEscalation in container "+c.Name)
			}
			if sc.Capabilities != nil && len(sc.Capabilities.Add) > 0 {
				add("kernel_capabilities", fmt.Sprintf("capabilities %s added to container %s", strings.Join(sc.Capabilities.Add, ","), c.Name))
			}
		}
	}
	return out
}

// Admit answers one AdmissionReview body: a pod (or pod template) asking
// for host namespaces, privileges, added capabilities or host paths needs
// container.create with the matching options in its namespace. Users
// grantd does not know (the API server's controllers creating pods from
// templates that were checked when they were written) pass.
func Admit(ctx context.Context, b Backend, body []byte) (answer []byte, d authz.Decision, err error) {
	var rv admissionReview
	if err := json.Unmarshal(body, &rv); err != nil {
		return nil, d, fmt.Errorf("%w: %w", ErrBadReview, err)
	}
	if rv.APIVersion != admissionV1 || rv.Kind != "AdmissionReview" || rv.Request == nil {
		return nil, d, fmt.Errorf("%w: an AdmissionReview of %s with a request", ErrBadReview, admissionV1)
	}
	req := rv.Request
	allowed, msg, d := admit(ctx, b, req)
	rv.Request = nil
	rv.Response = &admissionResponse{UID: req.UID, Allowed: allowed}
	if !allowed {
		rv.Response.Status = &status{Code: 403, Message: msg}
	}
	answer, err = json.Marshal(rv)
	return answer, d, err
}

func admit(ctx context.Context, b Backend, req *admissionRequest) (allowed bool, msg string, d authz.Decision) {
	if req.Operation != "CREATE" && req.Operation != "UPDATE" {
		return true, "", d
	}
	spec, ok, err := podSpecOf(req.Kind, req.Object)
	if err != nil {
		return false, "grantd could not read the object's pod spec: " + err.Error(), authz.Decision{Code: authz.CodeMalformedRequest}
	}
	if !ok {
		return true, "", d
	}
	asks := requested(spec)
	if len(asks) == 0 {
		return true, "", d
	}
	subject, known := Subject(b, req.UserInfo.Username)
	if !known {
		return true, "", d
	}
	options := make([]string, 0, len(asks))
	for o := range asks {
		options = append(options, o)
	}
	slices.Sort(options)
	if len(req.UserInfo.Groups) > MaxGroups {
		return false, fmt.Sprintf("grantd: the request names %d groups, more than grantd reads (%d)", len(req.UserInfo.Groups), MaxGroups),
			authz.Decision{Code: authz.CodeMalformedRequest}
	}
	d = b.Decide(ctx, authz.Request{Subject: subject, Operation: "container.create", Kubernetes: true,
		Namespace: req.Namespace, Groups: req.UserInfo.Groups, Options: options})
	switch {
	case d.Allowed, d.Code == authz.CodeUnknownSubject:
		return true, "", d
	}
	missing := d.Options
	if len(missing) == 0 {
		missing = options
	}
	var why []string
	for _, o := range missing {
		why = append(why, fmt.Sprintf("%s (%s)", o, strings.Join(asks[o], "; ")))
	}
	return false, fmt.Sprintf("grantd: %s %s/%s needs container.create with %s: %s",
		strings.ToLower(req.Kind.Kind), req.Namespace, objectName(req.Object), strings.Join(why, ", "), d.Reason), d
}

func objectName(raw json.RawMessage) string {
	var o struct {
		Metadata struct {
			Name         string `json:"name"`
			GenerateName string `json:"generateName"`
		} `json:"metadata"`
	}
	_ = json.Unmarshal(raw, &o)
	if o.Metadata.Name == "" {
		return o.Metadata.GenerateName
	}
	return o.Metadata.Name
}
