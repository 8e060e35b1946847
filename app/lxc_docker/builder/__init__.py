"""`docker build`: the Dockerfile parser, the builder that runs it step by step, the build cache,
and the build context (the files a build may ADD)."""
