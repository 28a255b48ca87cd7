# The `shoal` image: every replica, gateway and probe of an exported Flow runs this one binary
# (`shoal export kubernetes|docker-compose`, docs/export.md); the built-in Executors are inside it.
# Two stages on Debian bookworm: the build stage installs the build packages scripts/bootstrap
# lists and builds the `shoal` target; the runtime stage holds the binary, the shared
# libraries it links, and what Python Executors need (Debian's python3 with numpy and
# cloudpickle, and the `shoal` package on PYTHONPATH).
#
#   docker build -t shoal:latest .
#
# No ENTRYPOINT: manifests and compose files give the whole command (`shoal executor ...`, or
# `sh -c` for the compose gateway).

FROM debian:bookworm AS build
WORKDIR /src
COPY scripts/bootstrap scripts/bootstrap
RUN scripts/bootstrap --build-only && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DSHOAL_BUILD_TESTS=OFF \
    && cmake --build /build --target shoal _shoal \
    && strip --strip-debug /build/src/cli/shoal /build/python/_shoal*.so

FROM debian:bookworm-slim
# The shared libraries of the binary (`ldd shoal`); their own dependencies come with them.
# ca-certificates: roots for grpcs:// external Executors.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       libgrpc++1.51 libprotobuf32 libabsl20220623 libyaml-cpp0.7 libopenblas0-pthread \
       libprometheus-cpp-core1.0 libre2-9 libssl3 ca-certificates \
       libpython3.11 python3 python3-numpy python3-cloudpickle \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /build/src/cli/shoal /usr/local/bin/shoal
# The Python package (replicas embed `_shoal`; the extension serves scripts run in the image).
COPY --from=build /src/python/shoal /usr/local/lib/shoal/python/shoal
COPY --from=build /build/python/_shoal*.so /usr/local/lib/shoal/python/
ENV PYTHONPATH=/usr/local/lib/shoal/python SHOAL_BIN=/usr/local/bin/shoal
# An unprivileged user; /workspace is where exports mount each replica's workspace (compose's
# named volumes copy this owner, Kubernetes pods with a workspace get fsGroup 10001).
RUN useradd --system --uid 10001 --gid 0 --no-create-home --home-dir /workspace shoal \
    && mkdir /workspace && chown 10001:0 /workspace && chmod 0775 /workspace
USER 10001
WORKDIR /workspace
EXPOSE 8080 8101
CMD ["shoal", "--help"]
