# The WeMix parts of the committed reference values in tests/reference/expected:
# every file whose `source` is "WeMix 4.0.3 mix()", and pisa_s1_pv_combined.
#
# NOT RUN HERE. The committed files were made with WeMix 4.0.3 and lme4 1.1-31
# on R 4.2.2 outside this repository (they came with the project's
# specification, ../shared/reference). WeMix cannot be installed on the
# project's machines: CRAN is not reachable from them and Debian has no
# r-cran-wemix. The calls below are reconstructed from each file's `call`,
# `references` and `source` and from WeMix 4.0.3's documented interface
# (mix(formula, data, weights, cWeights, center_group, center_grand, nQuad,
# family) and the WeMixResults elements lnl, coef, SE, varDF, ICC); they have
# not been executed, so treat them as the record of what was fitted, to be
# checked the first time WeMix is at hand:
#   Rscript tests/reference/make_wemix.R OUTDIR   # needs WeMix 4.0.3, jsonlite
#   python tests/reference/compare.py OUTDIR
#
# The one step that needs no WeMix, the plausible-value combination
# (pisa_s1_pv_combined from the five committed pisa_s1_pv<k> files, by the
# rules of the EdSurvey note: seed 001, eqs. 6-8), runs on its own and
# reproduces the committed file exactly:
#   Rscript tests/reference/make_wemix.R --combine-only OUTDIR
#
# The `lme4_ml` entries of the unit-weight cases and the *_expanded files are
# lme4's: tests/reference/make_lme4.R makes them (and does run here).
# Run from the project root. OUTDIR defaults to a new temporary directory.
suppressMessages(library(jsonlite))

args <- commandArgs(trailingOnly = TRUE)
combine_only <- "--combine-only" %in% args
args <- setdiff(args, "--combine-only")
out_dir <- if (length(args) >= 1) args[1] else tempfile("pywemix_wemix_")
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)
ref <- file.path("tests", "reference")
stopifnot(dir.exists(file.path(ref, "expected")))

read_case <- function(name) fromJSON(file.path(ref, "expected", paste0(name, ".json")),
                                     simplifyVector = FALSE)
write_case <- function(x, name) {
  write_json(x, file.path(out_dir, paste0(name, ".json")), auto_unbox = TRUE,
             digits = NA, pretty = TRUE, null = "null", na = "null")
}

# ---- WeMix fits -------------------------------------------------------------
wemix_cases <- c("sleep_ri_unweighted", "sleep_ri_slope_uncorrelated",
                 "sleep_ri_slope_correlated", "sleep_ri_l1weights",
                 "sleep_group_centered", "sleep_binomial_l1weights",
                 "pastes_three_level_unweighted", "pisa_s1_ri", "pisa_s1_ri_slope",
                 "pisa_s1_pv1", "pisa_s1_pv2", "pisa_s1_pv3", "pisa_s1_pv4", "pisa_s1_pv5",
                 "pisa_s1i_binomial", "pisa_s1i_probit", "counts_s1i_poisson",
                 "three_s1_weighted")

# a reference data set with the case's reference levels first (the others sorted)
case_data <- function(case) {
  data <- read.csv(file.path(ref, "data", case$data), stringsAsFactors = FALSE)
  for (col in names(case$references)) {
    lev <- case$references[[col]]
    data[[col]] <- factor(data[[col]], levels = c(lev, sort(setdiff(unique(data[[col]]), lev))))
  }
  for (col in names(data)) if (is.character(data[[col]])) data[[col]] <- factor(data[[col]])
  data
}
# "Intercept" and column[T.level] names, as the reference files write them
fe_name <- function(nm, data) {
  nm[nm == "(Intercept)"] <- "Intercept"
  for (col in names(data)[vapply(data, is.factor, TRUE)]) {
    for (lev in levels(data[[col]])) nm[nm == paste0(col, lev)] <- sprintf("%s[T.%s]", col, lev)
  }
  nm
}
named_list <- function(v, data) {
  out <- as.list(unname(v))
  names(out) <- fe_name(names(v), data)
  out
}
re_name <- function(x) ifelse(is.na(x), NA, sub("(Intercept)", "Intercept", x, fixed = TRUE))

wemix_fit <- function(name) {
  suppressMessages(library(WeMix))
  stopifnot(packageVersion("WeMix") == "4.0.3")
  case <- read_case(name)
  call <- case$call
  data <- case_data(case)
  family <- switch(call$family,
                   gaussian = NULL,
                   binomial = binomial(link = if (is.null(call$link)) "logit" else call$link),
                   poisson = poisson())
  # center_group: {"Subject": ["Days"]} -> list(Subject = ~Days)
  center_group <- if (is.null(call$center_group)) NULL else
    lapply(call$center_group, function(v) as.formula(paste("~", paste(v, collapse = " + "))))
  center_grand <- if (is.null(call$center_grand)) NULL else
    as.formula(paste("~", paste(unlist(call$center_grand), collapse = " + ")))
  seconds <- system.time(
    m <- mix(as.formula(call$formula), data = data, weights = unlist(call$weights),
             cWeights = call$cond_weights, center_group = center_group,
             center_grand = center_grand, nQuad = call$n_quad, family = family)
  )[["elapsed"]]
  vd <- m$varDF
  case$source <- sprintf("WeMix %s mix()", packageVersion("WeMix"))
  case$llf <- m$lnl
  case$params <- named_list(m$coef, data)
  case$bse <- named_list(m$SE, data)
  case$var_components <- lapply(seq_len(nrow(vd)), function(i) {
    list(level = as.integer(vd$level[i]), group = vd$grp[i], var1 = re_name(vd$var1[i]),
         var2 = re_name(vd$var2[i]), variance = vd$vcov[i], std_error = vd$SEvcov[i])
  })
  case$icc <- if (length(m$ICC)) m$ICC else numeric(0)  # none for GLMMs: []
  case$wemix_seconds <- seconds
  write_case(case, name)  # keeps the committed lme4_ml entry: make_lme4.R remakes it
  cat(sprintf("%-32s llf %.15g (%.1f s)\n", name, m$lnl, seconds))
}

# ---- plausible values: five fits combined (EdSurvey note, seed 001, eqs. 6-8)
# estimate: the mean over the M fits; sampling variance U: the mean of the
# squared standard errors; imputation variance (1 + 1/M) B with B the variance
# of the estimates over the fits; standard error sqrt(U + (1 + 1/M) B). The
# variance components and their standard errors combine the same way; the ICC
# is the mean; there is no single log-likelihood.
combine_pv <- function() {
  fits <- lapply(sprintf("pisa_s1_pv%d", 1:5), function(n) {
    if (combine_only) read_case(n) else fromJSON(file.path(out_dir, paste0(n, ".json")),
                                                 simplifyVector = FALSE)
  })
  m <- length(fits)
  est <- sapply(fits, function(f) unlist(f$params))
  se <- sapply(fits, function(f) unlist(f$bse))
  u <- rowMeans(se^2)
  b <- (1 + 1 / m) * apply(est, 1, var)
  combined <- read_case("pisa_s1_pv_combined")  # name, data, call, references
  combined$source <- paste0("5 WeMix fits (", paste(sprintf("pisa_s1_pv%d", 1:5), collapse = ", "),
                            ") combined by the plausible-value rules of the EdSurvey note")
  combined$params <- as.list(rowMeans(est))
  combined$bse <- as.list(sqrt(u + b))
  combined$imputation_variance <- as.list(b)
  combined$sampling_variance <- as.list(u)
  vc <- combined$var_components
  for (j in seq_along(vc)) {
    v <- sapply(fits, function(f) f$var_components[[j]]$variance)
    s <- sapply(fits, function(f) f$var_components[[j]]$std_error)
    vc[[j]]$variance <- mean(v)
    vc[[j]]$std_error <- sqrt(mean(s^2) + (1 + 1 / m) * var(v))
  }
  combined$var_components <- vc
  combined$icc <- mean(sapply(fits, function(f) f$icc))
  combined$llf <- NA
  write_case(combined, "pisa_s1_pv_combined")
  cat("pisa_s1_pv_combined written\n")
}

if (!combine_only) for (name in wemix_cases) wemix_fit(name)
combine_pv()
cat("written to", out_dir, "\n")
