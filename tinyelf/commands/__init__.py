"""One module per ``tinyelf`` subcommand (see tinyelf.cli)."""
