package check

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// rootContainers may start as root, with why. Every other container runs as
// a non-root uid its image documents.
var rootContainers = map[string]string{
	"s3-volume": "chowns the s3 volume to versitygw's uid (its image has no user); CHOWN only, no network",
}

func TestComposeContainersRunAsNonRoot(t *testing.T) {
	p := composeProject(t)
	for name, s := range p.Services {
		uid, _, _ := strings.Cut(s.User, ":")
		root := uid == "" || uid == "0" || uid == "root"
		if _, allowed := rootContainers[name]; allowed {
			if len(s.CapAdd) != 1 || s.CapAdd[0] != "CHOWN" || s.NetworkMode != "none" {
				t.Errorf("%s runs as root: cap_add %v network_mode %q, want [CHOWN] and none", name, s.CapAdd, s.NetworkMode)
			}
			continue
		}
		if root {
			t.Errorf("%s: user %q: want the image's non-root uid:gid (or list it in rootContainers with why)", name, s.User)
		}
	}
}

var pinnedImage = regexp.MustCompile(`^[a-z0-9./-]+:[A-Za-z0-9._-]+(@sha256:[0-9a-f]{64})?$`)

// Every base image is pinned by tag, or by tag and digest, through a
// <X>_VERSION variable that scripts/refresh-image-pins.sh knows: the script
// is what turns the tags into digests (it needs a registry, this test does
// not).
func TestComposeImagesPinned(t *testing.T) {
	out, err := exec.Command("bash", filepath.Join(repoRoot(t), "scripts", "refresh-image-pins.sh"), "--list").CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/refresh-image-pins.sh --list: %v\n%s", err, out)
	}
	known := map[string]string{} // image name -> "tag" or "tag@digest"
	var unpinned []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) != 4 {
			t.Fatalf("--list line %q: want VARIABLE IMAGE TAG DIGEST", line)
		}
		known[f[1]] = f[2]
		if f[3] == "unpinned" {
			unpinned = append(unpinned, f[1]+":"+f[2])
		} else {
			known[f[1]] += "@" + f[3]
		}
	}
	p := composeProject(t)
	for name, s := range p.Services {
		if s.Build != nil {
			continue // built from this repository (scripts/build-images.sh)
		}
		if base, ok := variants[name]; ok {
			if s.Image != p.Services[base].Image {
				t.Errorf("%s: image %s, want %s's %s (a version of it side by side)", name, s.Image, base, p.Services[base].Image)
			}
			continue
		}
		if !pinnedImage.MatchString(s.Image) {
			t.Errorf("%s: image %q: want name:tag or name:tag@sha256:<digest>", name, s.Image)
			continue
		}
		img, ref, _ := strings.Cut(s.Image, ":")
		if want, ok := known[img]; !ok || ref != want {
			t.Errorf("%s: image %s: scripts/refresh-image-pins.sh knows %q: write it as image: %s:${<X>_VERSION:-<tag>}", name, s.Image, want, img)
		}
	}
	if len(unpinned) > 0 {
		t.Logf("pinned by tag only until scripts/refresh-image-pins.sh runs where a registry answers: %s", strings.Join(unpinned, " "))
	}
}
