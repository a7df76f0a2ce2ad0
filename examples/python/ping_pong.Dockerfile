# The ping-pong example reactor. Build from the repository root:
#   docker build -f examples/python/ping_pong.Dockerfile -t switchboard-python-ping-pong .
#   docker run --rm switchboard-python-ping-pong --grpc node0:26670
FROM python:3.11-slim
WORKDIR /sdk
COPY client/python/pyproject.toml client/python/README.md ./
COPY client/python/src ./src
RUN pip install --no-cache-dir . && rm -rf /sdk
WORKDIR /app
COPY examples/python/ping_pong.py ./
ENV PYTHONUNBUFFERED=1
ENTRYPOINT ["python", "/app/ping_pong.py"]
CMD ["--grpc", "127.0.0.1:26670"]
