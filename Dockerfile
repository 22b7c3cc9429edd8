FROM python:3.11-slim
# pg_dump and pg_restore: `dictation backup` / `restore` of the PostgreSQL database.
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY dictation ./dictation
COPY api ./api
COPY review_ui ./review_ui
RUN pip install --no-cache-dir .
ENV DICTATION_DATA_DIR=/data
VOLUME /data
EXPOSE 8000
CMD ["dictation", "serve", "--host", "0.0.0.0", "--port", "8000"]
