FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PARLEY_DATA_DIR=/var/lib/parley
WORKDIR /app
# DejaVu covers every letter of the delegations' names in the PDF reports
RUN apt-get update && apt-get install -y --no-install-recommends fonts-dejavu-core && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY server ./server
COPY workers ./workers
COPY config ./config
COPY frontend ./frontend
RUN pip install --no-cache-dir . && useradd --system --home /var/lib/parley parley \
    && mkdir -p /var/lib/parley && chown parley /var/lib/parley
USER parley
EXPOSE 8000
CMD ["parley", "serve"]
