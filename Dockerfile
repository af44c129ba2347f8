# Builds the k3rs image: a static-ish k3rs binary on a small Debian base.
#   docker build -t k3rs .     (needs a Docker engine and a reachable registry for the base images)
FROM rust:1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends protobuf-compiler && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p k3rs

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/k3rs /usr/local/bin/k3rs
VOLUME /var/lib/k3rs
EXPOSE 6443 2379
ENTRYPOINT ["/usr/local/bin/k3rs"]
CMD ["datastore", "serve", "--listen-client-urls", "http://0.0.0.0:2379"]
