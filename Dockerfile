# Switchboard in a container: the widget and console are built with Node.js, the wheel carries
# them (setup.py), and the runtime image has Python and the wheel only, running as a non-root user.
#
#   docker build -t switchboard .
#   docker run -p 8000:8000 -v switchboard-data:/data switchboard              # SQLite, one process
#   docker run -e DATABASE_URL=postgres://… -e REDIS_URL=redis://… -e SECRET_KEY=… switchboard
#
# Apply migrations once per release: `docker run … switchboard migrate` (the Procfile's release step).

FROM node:20-bookworm-slim AS assets
WORKDIR /src
COPY widget/package.json widget/package-lock.json widget/
COPY agent_ui/package.json agent_ui/package-lock.json agent_ui/
RUN cd widget && npm ci --no-audit --no-fund --loglevel=error \
 && cd ../agent_ui && npm ci --no-audit --no-fund --loglevel=error
COPY widget widget
COPY agent_ui agent_ui
RUN cd widget && npm run --silent build && cd ../agent_ui && npm run --silent build

FROM python:3.11-slim-bookworm AS wheel
WORKDIR /src
COPY . .
COPY --from=assets /src/widget/dist widget/dist
COPY --from=assets /src/agent_ui/dist agent_ui/dist
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim-bookworm
RUN useradd --system --create-home --home-dir /home/switchboard switchboard \
 && mkdir /data && chown switchboard /data
COPY --from=wheel /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER switchboard
WORKDIR /home/switchboard
ENV DATA_DIR=/data HOST=0.0.0.0 PORT=8000 LOG_LEVEL=info
EXPOSE 8000
VOLUME ["/data"]
CMD ["sh", "-c", "switchboard migrate && exec switchboard serve --host 0.0.0.0 --port ${PORT}"]
