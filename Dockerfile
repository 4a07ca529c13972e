# The ACD server on its bundled configuration; data (SQLite) in /data.
# The routing core is compiled with mypyc in a build stage (setup.py, docs/performance.md);
# the final image carries the wheel, not the compiler.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY acd ./acd
COPY agent_gateway ./agent_gateway
COPY ivr ./ivr
COPY loadtest ./loadtest
RUN pip install '.[compile]' \
    && ACD_COMPILE=1 pip wheel --no-build-isolation --no-deps -w /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY --from=build /wheels /wheels
COPY config ./config
RUN pip install /wheels/*.whl && rm -rf /wheels \
    && useradd --system --uid 10001 --home-dir /data acd \
    && mkdir -p /data && chown acd /data
USER acd
EXPOSE 8765
# Inside a container the server must listen beyond loopback for the published port to work.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8765/healthz', timeout=2).status == 200 else 1)"
ENTRYPOINT ["acd", "serve", "--config", "/app/config/center.toml", "--data-dir", "/data"]
CMD ["--host", "0.0.0.0", "--port", "8765"]
