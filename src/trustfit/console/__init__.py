"""Text input and output shared by the command line and the applications: reading tables,
parsing option strings, the progress bar. Imports nothing from the rest of trustfit."""
