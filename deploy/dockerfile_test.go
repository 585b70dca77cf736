package deploy

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// The image is not built here (no registry to pull base images from), so
// this checks that the Dockerfile keeps the promises the static test
// proves for it: the one build script, an empty final image, a non-root
// user, the /data volume and a HEALTHCHECK the binary answers itself.
func TestDockerfile(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(data)
	stages := regexp.MustCompile(`(?m)^FROM\s+(\S+)`).FindAllStringSubmatch(df, -1)
	if len(stages) < 2 || stages[len(stages)-1][1] != "scratch" {
		t.Errorf("want a multi-stage build ending FROM scratch, got %v", stages)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^RUN scripts/build-static\.sh `),
		regexp.MustCompile(`(?m)^USER [1-9][0-9]*:[1-9][0-9]*$`),
		regexp.MustCompile(`(?m)^VOLUME /data$`),
		regexp.MustCompile(`(?m)^\s+CMD \["/pulsestream", "healthcheck"\]$`),
		regexp.MustCompile(`(?m)^ENV PULSESTREAM_ADDR=:8000 \\\n\s+PULSESTREAM_DATABASE_URL=sqlite:///data/`),
		regexp.MustCompile(`(?i)not run in CI`),
	} {
		if !want.MatchString(df) {
			t.Errorf("Dockerfile lacks %s", want)
		}
	}
	if !strings.Contains(df, "HEALTHCHECK") {
		t.Error("Dockerfile has no HEALTHCHECK")
	}
	if _, err := os.Stat("../scripts/build-static.sh"); err != nil {
		t.Error(err)
	}
}
