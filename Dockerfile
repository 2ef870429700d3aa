# The demo as a Hugging Face Space (Docker SDK): docs/deploy.md explains each choice, and
# scripts/run-as-space.sh starts the same command, as the same user, without Docker.
FROM python:3.11-slim

# Spaces run the container as uid 1000; everything the app writes goes under its home.
# USER by number, which a host can check without the image's /etc/passwd.
RUN useradd --create-home --uid 1000 user
USER 1000:1000
ENV HOME=/home/user \
    PATH=/home/user/.local/bin:$PATH
WORKDIR /home/user/app

# The requirements alone first, so that editing the code does not reinstall TensorFlow.
COPY --chown=user requirements.txt .
RUN pip install --no-cache-dir --user -r requirements.txt

COPY --chown=user . .

# MNIST as the four idx files in mnist-idx/ at build time: retraining on the Space needs no network.
# Downloaded (through Keras) unless the build context's mnist-idx/ already holds them, as
# scripts/build-image.sh arranges for a build without network. A layer of its own, so that a
# failed download is retried without reinstalling everything.
# hadolint ignore=DL3059
RUN python -m denoiser fetch-mnist mnist-idx

# PORT: what Streamlit listens on (app_port in the README's front matter).
# TF_NUM_*_THREADS, OMP_NUM_THREADS: TensorFlow otherwise sizes its pools by the host's cores,
# not the 2 vCPUs a free Space gets; raise them with Space variables on bigger hardware.
# Retrained models go to /data/runs when the Space has persistent storage (mounted at /data),
# else to the app folder's runs/, lost on restart (denoiser/page/catalog.py, runs_dir).
# MNIST_DIR: the build step's idx files, for retraining.
# DENOISER_*: safe defaults for a public page (docs/deploy.md): one training at a time (always),
# at most 300,000 images a job (epochs × digits: the seed recipe's 5 × 60,000, about a minute on
# 2 cores), one start every 5 minutes on the whole server (per server, so no reload, new tab or
# second browser resets it; an IP address behind the Space's proxy is not the visitor's), and
# DENOISER_TRAINING=off (a Space variable) removes retraining altogether.
# XSRF protection is off because the Space's iframe cannot keep
# Streamlit's XSRF cookie, which breaks uploads (docs/deploy.md).
ENV PORT=7860 \
    PYTHONUNBUFFERED=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    TF_NUM_INTRAOP_THREADS=2 \
    TF_NUM_INTEROP_THREADS=1 \
    OMP_NUM_THREADS=2 \
    STREAMLIT_SERVER_ENABLE_XSRF_PROTECTION=false \
    MNIST_DIR=/home/user/app/mnist-idx \
    DENOISER_TRAINING=on \
    DENOISER_MAX_IMAGES=300000 \
    DENOISER_COOLDOWN_S=300 \
    DENOISER_COOLDOWN_PER=server
EXPOSE 7860

# Streamlit's own health endpoint; python, because the slim image has no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; assert urllib.request.urlopen('http://127.0.0.1:%s/_stcore/health' % os.environ['PORT'], timeout=4).read() == b'ok'"]

# `streamlit run`, plus a thread that prepares the default view (imports, models, the first
# digit's sweep) once the health check answers: the first visitor waits less (denoiser/page/warmup.py).
# sh -c expands $PORT; exec makes Streamlit PID 1, so it receives the stop signal itself.
CMD ["sh", "-c", "exec python -m denoiser.page.warmup app.py --server.port=$PORT --server.address=0.0.0.0"]
