"""Operations tools that run outside a request: the process supervisor behind `make serve`, the
signed-intake load generator behind `make bench` and the CI smoke test, and the page crawler."""
