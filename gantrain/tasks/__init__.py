"""One module per subcommand, each with a `main` decorated by `@hydra.main`."""
