package config

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	"go.yaml.in/yaml/v3"
)

// FileFlag registers --config: a TOML (.toml) or YAML (.yaml, .yml) file
// whose keys are the flag names ("addr", "max-body-bytes"; "_" may stand
// for "-"). Precedence, highest first: flag, environment variable, file,
// default.
func FileFlag(fs *flag.FlagSet) {
	fs.String("config", "", "configuration file, TOML or YAML, keys named like the flags (also "+FileEnv+"); flags and environment variables override it")
}

// readFile reads a configuration file into flag name → value text. Every
// key must name a serve flag: a typo is an error naming the closest one.
func readFile(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--config: %w", err)
	}
	raw := map[string]any{}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".toml":
		_, err = toml.NewDecoder(bytes.NewReader(data)).Decode(&raw)
	case ".yaml", ".yml":
		err = yaml.Unmarshal(data, &raw)
	default:
		return nil, fmt.Errorf("--config %s: the name must end in .toml, .yaml or .yml", path)
	}
	if err != nil {
		return nil, fmt.Errorf("--config %s: %w", path, err)
	}
	var known []string
	var c Config
	all := flag.NewFlagSet("", flag.ContinueOnError)
	ServeFlags(all, &c)
	all.VisitAll(func(f *flag.Flag) {
		if f.Name != "config" {
			known = append(known, f.Name)
		}
	})
	out := map[string]string{}
	var problems []string
	for key, v := range raw {
		name := strings.ReplaceAll(key, "_", "-")
		if !slices.Contains(known, name) {
			problems = append(problems, fmt.Sprintf("unknown key %q (did you mean %q?)", key, closest(name, known)))
			continue
		}
		switch v := v.(type) {
		case string:
			out[name] = v
		case bool:
			out[name] = strconv.FormatBool(v)
		case int, int64, uint64, float64:
			out[name] = fmt.Sprint(v)
		default:
			problems = append(problems, fmt.Sprintf("key %q must be a string, number or boolean, not %T", key, v))
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return nil, fmt.Errorf("--config %s: %s", path, strings.Join(problems, "; "))
	}
	return out, nil
}
