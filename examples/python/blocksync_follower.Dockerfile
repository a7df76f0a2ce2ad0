# The blocksync follower example reactor. Build from the repository root:
#   docker build -f examples/python/blocksync_follower.Dockerfile -t switchboard-python-blocksync-follower .
#   docker run --rm switchboard-python-blocksync-follower --grpc node0:26670
FROM python:3.11-slim
WORKDIR /sdk
COPY client/python/pyproject.toml client/python/README.md ./
COPY client/python/src ./src
RUN pip install --no-cache-dir . && rm -rf /sdk
WORKDIR /app
COPY examples/python/blocksync_follower.py ./
ENV PYTHONUNBUFFERED=1
ENTRYPOINT ["python", "/app/blocksync_follower.py"]
CMD ["--grpc", "127.0.0.1:26670"]
