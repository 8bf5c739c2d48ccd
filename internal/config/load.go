package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// DefaultFile is read when no --config is given and it exists.
const DefaultFile = "concord.yaml"

// ChannelDir is the directory, beside the configuration file, whose YAML
// files define more channels.
const ChannelDir = "channels"

// maxFileSize caps the configuration file read into memory.
const maxFileSize = 4 << 20

// Sources are the inputs Load merges, from weakest to strongest.
type Sources struct {
	// File is the configuration file; "" means DefaultFile if it exists.
	File string
	// Environ is the environment, as os.Environ returns it.
	Environ []string
	// Flags are the values given on the command line, by key name.
	Flags map[string]string
}

// Load builds the configuration from its sources and validates it. Errors
// say where the bad value came from: file and line, variable, or flag.
func Load(src Sources) (Config, error) {
	c := Default()
	path, required := src.File, true
	if path == "" {
		path, required = DefaultFile, false
	}
	if err := loadFile(&c, path, required); err != nil {
		return c, err
	}
	more, err := loadChannelDir(filepath.Join(filepath.Dir(path), ChannelDir))
	if err != nil {
		return c, err
	}
	c.Channels = append(c.Channels, more...)
	if err := checkChannelGraph(c.Channels); err != nil {
		return c, err
	}
	for _, kv := range src.Environ {
		name, val, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "CONCORD_") || strings.HasPrefix(name, "CONCORD_TEST_") || name == "CONCORD_CONFIG" {
			continue
		}
		k, ok := keyByEnv(name)
		if !ok {
			return c, fmt.Errorf("environment variable %s: unknown setting (known: %s)", name, envNames())
		}
		if err := k.Set(&c, val); err != nil {
			return c, fmt.Errorf("environment variable %s: %w", name, err)
		}
	}
	for _, k := range Keys {
		if v, ok := src.Flags[k.Name]; ok {
			if err := k.Set(&c, v); err != nil {
				return c, fmt.Errorf("flag --%s: %w", k.Flag(), err)
			}
		}
	}
	return c, c.Validate()
}

func loadFile(c *Config, path string, required bool) error {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) && !required {
		return nil
	}
	top, err := readYAML(path)
	if err != nil || top == nil {
		return err
	}
	if top.Kind != yaml.MappingNode {
		return fmt.Errorf("config %s:%d: want a mapping of settings (key: value)", path, top.Line)
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(top.Content); i += 2 {
		kn, vn := top.Content[i], top.Content[i+1]
		if kn.Value == "channels" {
			if seen["channels"] {
				return fmt.Errorf("config %s:%d: key %q given twice", path, kn.Line, kn.Value)
			}
			seen["channels"] = true
			chs, err := loadChannels(path, vn)
			if err != nil {
				return err
			}
			c.Channels = chs
			continue
		}
		k, ok := KeyByName(kn.Value)
		if !ok {
			return fmt.Errorf("config %s:%d: unknown key %q", path, kn.Line, kn.Value)
		}
		if seen[kn.Value] {
			return fmt.Errorf("config %s:%d: key %q given twice", path, kn.Line, kn.Value)
		}
		seen[kn.Value] = true
		if vn.Kind != yaml.ScalarNode {
			return fmt.Errorf("config %s:%d: key %q wants a single value", path, vn.Line, kn.Value)
		}
		val := vn.Value
		if vn.Tag == "!!null" {
			val = ""
		}
		if err := k.Set(c, val); err != nil {
			return fmt.Errorf("config %s:%d: key %q: %w", path, vn.Line, kn.Value, err)
		}
	}
	return nil
}

// readYAML reads a YAML file of at most maxFileSize bytes and returns its
// top node, nil for an empty file.
func readYAML(path string) (*yaml.Node, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, unwrapPath(err))
	}
	defer f.Close()
	var buf bytes.Buffer
	if n, err := buf.ReadFrom(io.LimitReader(f, maxFileSize+1)); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, unwrapPath(err))
	} else if n > maxFileSize {
		return nil, fmt.Errorf("config %s: larger than %d bytes", path, maxFileSize)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(buf.Bytes(), &doc); err != nil {
		return nil, fmt.Errorf("config %s: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(doc.Content) == 0 {
		return nil, nil // empty file
	}
	return doc.Content[0], nil
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func keyByEnv(name string) (Key, bool) {
	for _, k := range Keys {
		if k.Env() == name {
			return k, true
		}
	}
	return Key{}, false
}

func envNames() string {
	names := make([]string, len(Keys))
	for i, k := range Keys {
		names[i] = k.Env()
	}
	return strings.Join(names, ", ")
}
