# Nastavnik bot image: `docker build -t nastavnik .` (see docker-compose.yml).
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

RUN useradd --system --uid 10001 --home-dir /app nastavnik

COPY pyproject.toml README.md alembic.ini ./
COPY bot ./bot
COPY db ./db
COPY handlers ./handlers
COPY keyboards ./keyboards
COPY scheduler ./scheduler
COPY bench ./bench
RUN pip install '.[postgres,redis]' && mkdir -p /app/data && chown nastavnik /app/data

USER nastavnik
# Webhook mode listens here (WEBHOOK_PORT); /healthz answers the orchestrator.
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD python -c "import os,sys,urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('WEBHOOK_PORT', '8080'), timeout=4); sys.exit(0)" || exit 1

# Applies the database migrations, then serves (webhook mode with WEBHOOK_URL/WEBHOOK_SECRET).
CMD ["python", "-m", "bot"]
