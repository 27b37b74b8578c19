# Quick start: `make demo` (simulate + reconstruct the demo data into demo_out/) and `make test`.
# Both create .venv on first use and install pointillist into it; later runs reuse it.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.pointillist-installed
DEMO := demo_out

.PHONY: demo test test-slow clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# The CPU wheel of torch first: an unpinned torch would pull a multi-GB CUDA build.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	# the napari extra too: `make test` covers the plugin (headless: Qt's offscreen platform)
	$(BIN)/python -m pip install --quiet -e '.[test,napari]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/pointillist simulate smlm $(DEMO)/smlm --size 64 --frames 20 --density 6 --snr 12 --seed 1 --overwrite
	$(BIN)/pointillist localize $(DEMO)/smlm/stack.tif -o $(DEMO)/deepcel0 --method deepcel0 --pixel-size 100 \
		--psf-fwhm 258.21 --upsample 4 --overwrite
	$(BIN)/pointillist evaluate $(DEMO)/deepcel0/localizations.csv $(DEMO)/smlm/ground_truth.csv --tolerance-nm 50
	$(BIN)/pointillist simulate fluct $(DEMO)/fluct --size 32 --frames 300 --seed 7 --overwrite
	$(BIN)/pointillist info $(DEMO)/fluct/stack.tif
	$(BIN)/pointillist reconstruct $(DEMO)/fluct/stack.tif -o $(DEMO)/colorme --method colorme --penalty cel0 \
		--pixel-size 100 --psf-fwhm 258.21 --upsample 4 --offset 100 --overwrite
	$(BIN)/pointillist evaluate $(DEMO)/colorme/support.tif $(DEMO)/fluct/support.tif --tolerance-nm 40
	$(BIN)/pointillist reconstruct $(DEMO)/fluct/stack.tif -o $(DEMO)/pnp-colorme --method pnp-colorme --mu 0.7 \
		--sigma 10 --pixel-size 100 --psf-fwhm 258.21 --upsample 4 --offset 100 --overwrite
	$(BIN)/pointillist evaluate $(DEMO)/pnp-colorme/support.tif $(DEMO)/fluct/support.tif --tolerance-nm 40
	for m in sofi srrf sparcom lsparcom; do $(BIN)/pointillist reconstruct $(DEMO)/fluct/stack.tif \
		-o $(DEMO)/$$m --method $$m --pixel-size 100 --psf-fwhm 258.21 --upsample 4 --offset 100 --quiet \
		--overwrite || exit 1; done
	$(BIN)/pointillist evaluate $(DEMO)/sparcom/support.tif $(DEMO)/fluct/support.tif --tolerance-nm 40
	# MA-TIRF: --axial-mu 0 (each pixel alone) keeps this example under a minute; the default TV takes ~40 s more
	$(BIN)/pointillist simulate matirf $(DEMO)/matirf --size 24 --frames 150 --snr 15 --seed 3 --overwrite
	$(BIN)/pointillist reconstruct-3d $(DEMO)/matirf/angle_*.tif --angles $(DEMO)/matirf/angles.csv \
		-o $(DEMO)/colorme-3d --pixel-size 100 --psf-fwhm 258.21 --upsample 4 --axial-mu 0 --overwrite
	$(BIN)/pointillist evaluate $(DEMO)/colorme-3d/support.tif $(DEMO)/matirf/support.tif --tolerance-nm 40
	@echo "demo results and figures are in $(DEMO)/"

test: $(STAMP)
	$(BIN)/python -m pytest

test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow

clean:
	rm -rf $(DEMO) build dist src/*.egg-info
