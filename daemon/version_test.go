package daemon

import (
	"runtime/debug"
	"strings"
	"testing"
)

// Each source of the version: the linker's stamp, a `go install …@vX` build, a `go install
// …@COMMIT` build (a pseudo-version), a VCS-stamped `go build`, and nothing at all.
func TestVersionSources(t *testing.T) {
	t.Parallel()
	vcs := []debug.BuildSetting{{Key: "vcs.revision", Value: "2dfc05b1b742d4445f5355be14ee2192fd5428d8"}, {Key: "vcs.modified", Value: "true"}}
	for _, tc := range []struct {
		name                 string
		linkVersion, commit  string
		info                 *debug.BuildInfo
		wantVersion, wantRev string
		modified             bool
	}{
		{"linker", "v1.2.0-3-gabc1234", "abc1234ffff", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}, "v1.2.0-3-gabc1234", "abc1234ffff", false},
		{"go install at a tag", "", "", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.0"}}, "v1.2.0", "unknown", false},
		{"go install at a commit", "", "", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261203104100-2dfc05b1b742"}}, "v0.0.0-20261203104100-2dfc05b1b742", "2dfc05b1b742", false},
		{"go install after a tag", "", "", &debug.BuildInfo{Main: debug.Module{Version: "v1.2.1-0.20261203104100-2dfc05b1b742"}}, "v1.2.1-0.20261203104100-2dfc05b1b742", "2dfc05b1b742", false},
		{"go build in a checkout", "", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs}, "devel", "2dfc05b1b742d4445f5355be14ee2192fd5428d8", true},
		{"linker wins over vcs", "v1.3.0", "cafe", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs}, "v1.3.0", "cafe", true},
		{"no build information", "", "", nil, "unknown", "unknown", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := buildVersion(tc.linkVersion, tc.commit, tc.info)
			if v.Version != tc.wantVersion || v.Commit != tc.wantRev || v.Modified != tc.modified || !strings.HasPrefix(v.GoVersion, "go") {
				t.Errorf("got %+v, want version %s, commit %s, modified %v", v, tc.wantVersion, tc.wantRev, tc.modified)
			}
			if s := v.String(); !strings.Contains(s, v.Version) || !strings.Contains(s, v.Commit) || !strings.Contains(s, v.GoVersion) {
				t.Errorf("String() = %q", s)
			}
		})
	}
}
