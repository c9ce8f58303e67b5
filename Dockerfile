# TaskFlow's image: the app and its static files, served by uvicorn on port 8000 as a non-root user.
# docker-compose.yml runs it behind nginx with MySQL and Redis; README.md "Deploying with docker compose".
#
# Two stages: the build stage has a compiler and the MariaDB client headers to build mysqlclient;
# the runtime stage gets only the finished virtualenv and the client library it links to.

ARG PYTHON_IMAGE=python:3.13-slim

FROM ${PYTHON_IMAGE} AS build

RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev libmariadb-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir --upgrade pip \
    && pip install --no-cache-dir -r /tmp/requirements.txt


FROM ${PYTHON_IMAGE} AS runtime

RUN apt-get update \
    && apt-get install -y --no-install-recommends libmariadb3 \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system taskflow \
    && useradd --system --gid taskflow --no-create-home --home-dir /app --shell /usr/sbin/nologin taskflow

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TASKFLOW_ENV=production

COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# Owned by root and read-only to the app's user: the running app writes nothing here.
COPY . /app

# Static files are collected into the image, hashed and compressed, and served by the app itself
# (WhiteNoise). Production settings refuse to load without secrets, so this one step gets
# throwaway ones; the container's real ones come from the environment at run time.
RUN SECRET_KEY=collectstatic-only JWT_SIGNING_KEY=collectstatic-only-jwt ALLOWED_HOSTS=localhost \
    EMAIL_URL=consolemail:// \
    python manage.py collectstatic --no-input --verbosity 0

# The one folder the app writes: attachments' files (the compose file mounts a volume here, which
# takes this folder's owner when it is first created).
RUN mkdir /app/media && chown taskflow:taskflow /app/media

USER taskflow
EXPOSE 8000

# /healthz answers while the process serves; it checks no other service (that is /readyz).
HEALTHCHECK --interval=15s --timeout=6s --start-period=20s --retries=3 \
    CMD ["python", "-m", "taskflow.healthcheck", "--port", "8000"]

# uvicorn pushes WebSocket events several times faster than Daphne (bench/README.md); Daphne
# stays available: `python -m taskflow.serve --server daphne --host 0.0.0.0 --port 8000`.
CMD ["python", "-m", "taskflow.serve", "--server", "uvicorn", "--host", "0.0.0.0", "--port", "8000"]
