package daemon

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
)

// version and commit are set by the linker (scripts/build, scripts/package):
//
//	-ldflags "-X github.com/softbooq/xerosync/daemon.version=v1.2.0-3-gabc1234 -X github.com/softbooq/xerosync/daemon.commit=abc1234…"
//
// They are package variables, against our no-globals habit, because -X can set nothing else;
// nothing assigns them at run time. Empty means a build without those flags: `go install
// …@VERSION` or a plain `go build`, for which buildVersion falls back on the build
// information the Go toolchain embeds.
var (
	version string
	commit  string
)

// BuildVersion is what `xerosync version` prints.
type BuildVersion struct {
	Version   string // git describe of the source, or the module version
	Commit    string // the full commit hash, or "unknown"
	Modified  bool   // built from a work tree with uncommitted changes (only known from VCS stamping)
	GoVersion string // the toolchain that built the binary
	Platform  string // GOOS/GOARCH
}

// pseudoVersion matches a Go module pseudo-version, whose last part is the commit's first
// 12 hex digits (v0.0.0-20261203104100-2dfc05b1c2d3): what `go install …@COMMIT` builds.
var pseudoVersion = regexp.MustCompile(`[-.]\d{14}-([0-9a-f]{12})$`) // also v1.3.0-rc.1.0.2026…-hash

// buildVersion combines the linker's values with the toolchain's build information: the
// linker's win (they are what scripts/build and the package stamp), and a `go install
// github.com/softbooq/xerosync/daemon/cmd/xerosync@v1.2.0` build, which has neither, still
// reports v1.2.0. A pure function of its inputs, so each source is tested on its own.
func buildVersion(linkVersion, linkCommit string, info *debug.BuildInfo) BuildVersion {
	v := BuildVersion{Version: linkVersion, Commit: linkCommit, GoVersion: runtime.Version(),
		Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if info == nil {
		v.Version, v.Commit = cmp.Or(v.Version, "unknown"), cmp.Or(v.Commit, "unknown")
		return v
	}
	v.GoVersion = cmp.Or(info.GoVersion, v.GoVersion)
	if v.Version == "" && info.Main.Version != "(devel)" {
		v.Version = info.Main.Version
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Commit = cmp.Or(v.Commit, s.Value)
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	if m := pseudoVersion.FindStringSubmatch(v.Version); v.Commit == "" && m != nil {
		v.Commit = m[1] // a prefix of the commit, which is all a module version carries
	}
	// "(devel)" is what a build in a checkout without VCS stamping reports: say so plainly.
	v.Version, v.Commit = cmp.Or(v.Version, "devel"), cmp.Or(v.Commit, "unknown")
	return v
}

// currentVersion is this binary's BuildVersion.
func currentVersion() BuildVersion {
	info, _ := debug.ReadBuildInfo() // nil only in a binary built without module support
	return buildVersion(version, commit, info)
}

func (v BuildVersion) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "xerosync %s\n", v.Version)
	fmt.Fprintf(&b, "commit   %s", v.Commit)
	if v.Modified {
		b.WriteString(" (modified)")
	}
	fmt.Fprintf(&b, "\ngo       %s %s\n", v.GoVersion, v.Platform)
	return b.String()
}

func versionFlags(fs *flag.FlagSet, inv *invocation) func(context.Context) error {
	return func(context.Context) error {
		fmt.Fprint(inv.p.Stdout, currentVersion())
		return nil
	}
}
