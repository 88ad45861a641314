"""Test support: a real Prefect server, a recording proxy, the `prefect deploy` oracle and a
generator of realistic repositories. Nothing here is part of flowdeploy itself."""
