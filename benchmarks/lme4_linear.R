# Time lme4::lmer (ML, unweighted) for benchmarks/bench_linear.py.
#
# Usage: Rscript benchmarks/lme4_linear.R DATA.csv REPEATS OUT.json FORMULA [FORMULA ...]
#
# Reads the CSV once, keeps the complete rows of the model variables (so the
# timed call does no NA handling beyond lmer's own checks), then times only
# the lmer(..., REML = FALSE) call REPEATS times per formula (wall clock,
# elapsed seconds from proc.time). Writes timings and the estimates of the
# last fit (fixed effects, their model-based SEs, theta, sigma, variance
# components, log-likelihood) to OUT.json.
suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
if (length(args) < 4) {
  stop("usage: Rscript lme4_linear.R DATA.csv REPEATS OUT.json FORMULA [FORMULA ...]")
}
path <- args[[1]]
repeats <- as.integer(args[[2]])
out <- args[[3]]
formulas <- args[-(1:3)]

data <- read.csv(path, stringsAsFactors = FALSE)
results <- list()
for (fs in formulas) {
  f <- as.formula(fs)
  vars <- all.vars(f)
  d <- data[complete.cases(data[, vars]), vars]
  # character columns as factors with sorted levels (pywemix's convention)
  for (v in vars) {
    if (is.character(d[[v]])) d[[v]] <- factor(d[[v]], levels = sort(unique(d[[v]]), method = "radix"))
  }
  times <- numeric(repeats)
  fit <- NULL
  for (i in seq_len(repeats)) {
    gc(verbose = FALSE)
    t0 <- proc.time()[["elapsed"]]
    fit <- lmer(f, data = d, REML = FALSE)
    times[i] <- proc.time()[["elapsed"]] - t0
  }
  vc <- as.data.frame(VarCorr(fit))
  results[[length(results) + 1]] <- list(
    formula = fs,
    nobs = nobs(fit),
    n_groups = as.list(ngrps(fit)),
    times = times,
    fixef = as.list(fixef(fit)),
    se = as.list(sqrt(diag(as.matrix(vcov(fit))))),
    theta = unname(getME(fit, "theta")),
    sigma = sigma(fit),
    loglik = as.numeric(logLik(fit)),
    varcorr = list(grp = vc$grp, var1 = vc$var1, var2 = vc$var2, vcov = vc$vcov),
    warnings = fit@optinfo$conv$lme4$messages
  )
}
meta <- list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
             blas = tryCatch(sessionInfo()$BLAS, error = function(e) NA))
writeLines(toJSON(list(meta = meta, fits = results), auto_unbox = TRUE, digits = NA,
                  null = "null", na = "null"), out)
