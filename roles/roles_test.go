package roles

import (
	"errors"
	"slices"
	"sort"
	"strings"
	"testing"
)

// ops lists a role's operations outside Kubernetes (see kubeOps).
func ops(r Role) []string {
	var out []string
	for _, p := range r.Permissions {
		if !strings.HasPrefix(p.Operation, kubernetesPrefix) {
			out = append(out, p.Operation)
		}
	}
	sort.Strings(out)
	return out
}

func options(r Role, op string) []string {
	for _, p := range r.Permissions {
		if p.Operation == op {
			return p.Options
		}
	}
	return nil
}

func TestCatalogMatchesSpec(t *testing.T) {
	if n := len(OperationsOf(Swarm)); n != 5+23+12+5+3+5+6+3 {
		t.Errorf("swarm operations: %d", n)
	}
	if n := len(OperationsOf(Repository)); n != 10 {
		t.Errorf("repository operations: %d", n)
	}
	create, ok := Lookup("container.create")
	if !ok || create.DisplayName != "Container Create" || len(create.Options) != 8 || !create.HasOption("privileged") {
		t.Errorf("container.create = %+v", create)
	}
	if o, _ := Lookup("container.fs_read"); o.DisplayName != "Container FS Read" {
		t.Errorf("display name %q", o.DisplayName)
	}
	if o, _ := Lookup("service.update"); !slices.Equal(o.Options, []string{"credential_spec", "host_bind_mounts", "host_networking", "bridge_networking"}) {
		t.Errorf("service.update options %v", o.Options)
	}
	if _, ok := Lookup("container.fly"); ok {
		t.Error("unknown operation found")
	}
	c := Catalog()
	c[0].Options = append(c[0].Options, "mutated")
	if o, _ := Lookup(c[0].ID); o.HasOption("mutated") {
		t.Error("Catalog hands out shared slices")
	}
}

func TestBuiltinRolesExact(t *testing.T) {
	view, _ := Builtin(ViewOnly)
	wantView := []string{"config.view", "container.changes", "container.logs", "container.stats", "container.top",
		"container.view", "image.history", "image.view", "network.view", "node.view", "secret.view",
		"service.logs", "service.view", "service.view_tasks", "volume.view"}
	if got := ops(view); !slices.Equal(got, wantView) {
		t.Errorf("viewonly = %v", got)
	}
	sched, _ := Builtin(Scheduler)
	if got := ops(sched); !slices.Equal(got, []string{"node.schedule", "node.view"}) {
		t.Errorf("scheduler = %v", got)
	}
	rc, _ := Builtin(RestrictedControl)
	if n := len(ops(rc)); n != len(OperationsOf(Swarm))-2 {
		t.Errorf("restrictedcontrol has %d operations", n)
	}
	if slices.Contains(ops(rc), "container.exec") || slices.Contains(ops(rc), "node.update") {
		t.Error("restrictedcontrol holds exec or node.update")
	}
	for op, want := range map[string][]string{
		"container.create": {"bridge_networking"}, "service.create": {"bridge_networking"},
		"service.update": {"bridge_networking"}, "network.create": {"attachable"},
		"image.remove": {"force"}, "volume.create": nil,
	} {
		if got := options(rc, op); !slices.Equal(got, want) {
			t.Errorf("restrictedcontrol %s options = %v, want %v", op, got, want)
		}
	}
	fc, _ := Builtin(FullControl)
	if got := options(fc, "container.create"); len(got) != 8 {
		t.Errorf("fullcontrol container.create options = %v", got)
	}
	none, _ := Builtin(None)
	if len(none.Permissions) != 0 || none.DisplayName != "None" {
		t.Errorf("none = %+v", none)
	}
	wantRepo := map[string][]string{
		RepoReadOnly:  {"repository.pull", "repository.view"},
		RepoReadWrite: {"repository.delete_tags", "repository.pull", "repository.push", "repository.scan", "repository.view"},
		RepoAdmin: {"repository.delete_tags", "repository.edit", "repository.manage_access", "repository.pull",
			"repository.push", "repository.scan", "repository.set_visibility", "repository.view"},
	}
	for id, want := range wantRepo {
		r, _ := Builtin(id)
		if got := ops(r); !slices.Equal(got, want) {
			t.Errorf("%s = %v", id, got)
		}
		if r.AppliesTo(Swarm) || !r.AppliesTo(Repository) {
			t.Errorf("%s applicability wrong", id)
		}
	}
	for _, r := range Builtins() {
		if !r.Builtin {
			t.Errorf("%s not flagged built in", r.ID)
		}
	}
}

func TestValidateCustom(t *testing.T) {
	r, err := ValidateCustom("developer", []Permission{
		{Operation: "container.logs"},
		{Operation: "container.create", Options: []string{"privileged", "bridge_networking"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := ops(r); !slices.Equal(got, []string{"container.create", "container.logs"}) {
		t.Errorf("ops = %v", got)
	}
	if got := options(r, "container.create"); !slices.Equal(got, []string{"bridge_networking", "privileged"}) {
		t.Errorf("options not normalized: %v", got)
	}
	bad := []struct {
		id    string
		perms []Permission
		want  string
	}{
		{"fullcontrol", []Permission{{Operation: "container.logs"}}, "built-in"},
		{"", []Permission{{Operation: "container.logs"}}, "1-100"},
		{"x", nil, "at least one"},
		{"x", []Permission{{Operation: "container.fly"}}, "unknown operation"},
		{"x", []Permission{{Operation: "container.logs", Options: []string{"privileged"}}}, "no option"},
		{"x", []Permission{{Operation: "container.logs"}, {Operation: "container.logs"}}, "twice"},
		{"x", []Permission{{Operation: "repository.delete"}}, "reserved"},
		{"a b", []Permission{{Operation: "container.logs"}}, "character"},
		{"x", []Permission{{Operation: "container.create", Options: []string{"privileged", "privileged"}}}, "twice"},
	}
	for _, b := range bad {
		_, err := ValidateCustom(b.id, b.perms)
		if !errors.Is(err, ErrInvalidRole) || !strings.Contains(err.Error(), b.want) {
			t.Errorf("ValidateCustom(%q, %v) = %v, want error containing %q", b.id, b.perms, err, b.want)
		}
	}
	// Every problem is reported at once.
	_, err = ValidateCustom("-x", []Permission{{Operation: "nope"}, {Operation: "container.logs", Options: []string{"z"}}})
	if err == nil || strings.Count(err.Error(), ";") != 2 {
		t.Errorf("want three problems at once, got %v", err)
	}
}
