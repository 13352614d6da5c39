"""Device layer: one interface per device kind, real drivers and protocol-level simulators."""
