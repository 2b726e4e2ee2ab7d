"""AX domain layer: settings, access decisions and every read the pages make."""
