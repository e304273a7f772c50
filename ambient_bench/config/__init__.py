"""Configuration: typed suite sections, YAML suite files with presets and overrides."""
