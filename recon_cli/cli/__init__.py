"""The command-line interface. Modules here parse options, make one call into the library and render."""
