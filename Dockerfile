# The gateway image used by docker-compose.yml. (No Docker engine runs in our CI; this file is kept in step with
# the settings by tests/mssante/test_compose.py.)
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends openssl && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY certs certs
COPY policies policies
COPY storage storage
COPY directory directory
COPY mail_gateway mail_gateway
COPY patient_inbox patient_inbox
COPY mssante mssante
RUN pip install --no-cache-dir . && useradd --system --home /var/lib/mssante mssante \
    && mkdir -p /var/lib/mssante && chown mssante /var/lib/mssante
USER mssante
ENV MSSANTE_DATA_DIR=/var/lib/mssante
CMD ["sh", "-c", "mssante init && exec mssante serve"]
