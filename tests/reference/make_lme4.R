# The lme4 parts of the committed reference values in tests/reference/expected:
#
#   * `lme4_ml` (llf, params) inside the WeMix files sleep_ri_unweighted,
#     sleep_ri_slope_uncorrelated, sleep_ri_slope_correlated and
#     pastes_three_level_unweighted: lmer(REML = FALSE) with unit weights;
#   * the whole files pisa_s1i_binomial_expanded, pisa_s1i_probit_expanded and
#     counts_s1i_poisson_expanded: glmer(nAGQ = 15) on the data with every row
#     repeated iw1 times and every school repeated iw2 times (as new schools),
#     which is what integer conditional weights (iw1, iw2) mean.
#
# The committed values came from lme4 1.1-31 on R 4.2.2 (their `source`). This
# script reconstructs those calls from each file's `call` and `source`; it
# reproduces them with lme4 1.1-31 on R 4.2.2 (Debian's r-cran-lme4): see
# CONTRIBUTING.md ("Reference values") for the agreement found and how to
# check it again.
#
# Run from the project root:
#   Rscript tests/reference/make_lme4.R [OUTDIR]
# OUTDIR defaults to a new temporary directory (never tests/reference/expected
# itself: the committed files are changed only on purpose, by copying a
# checked file over). For the `lme4_ml` cases the script reads the committed
# WeMix file and writes it to OUTDIR with `lme4_ml` recomputed; the expanded
# cases are written whole. Compare with:
#   python tests/reference/compare.py OUTDIR
# Needs R with lme4 and jsonlite (Debian: r-cran-lme4, r-cran-jsonlite).
suppressMessages({
  library(lme4)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
out_dir <- if (length(args) >= 1) args[1] else tempfile("pywemix_lme4_")
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)
ref <- file.path("tests", "reference")
stopifnot(dir.exists(file.path(ref, "expected")))

read_ref <- function(file) read.csv(file.path(ref, "data", file), stringsAsFactors = TRUE)
read_case <- function(name) fromJSON(file.path(ref, "expected", paste0(name, ".json")),
                                     simplifyVector = FALSE)
write_case <- function(x, name) {
  write_json(x, file.path(out_dir, paste0(name, ".json")), auto_unbox = TRUE,
             digits = NA, pretty = TRUE, null = "null", na = "null")
}
# lme4's "(Intercept)" is "Intercept" in the reference files; factor levels
# are written column[T.level] ("st04q01Male" -> "st04q01[T.Male]")
fe_name <- function(nm, data) {
  nm[nm == "(Intercept)"] <- "Intercept"
  for (col in names(data)[vapply(data, is.factor, TRUE)]) {
    for (lev in levels(data[[col]])) {
      nm[nm == paste0(col, lev)] <- sprintf("%s[T.%s]", col, lev)
    }
  }
  nm
}
named_list <- function(v, data) {
  out <- as.list(unname(v))
  names(out) <- fe_name(names(v), data)
  out
}

# ---- lme4_ml: ML fits with unit weights -----------------------------------
sleep <- read_ref("sleepstudy.csv")
sleep$Subject <- factor(sleep$Subject)
pastes <- read_ref("pastes.csv")
ml_cases <- list(
  sleep_ri_unweighted = sleep,
  sleep_ri_slope_uncorrelated = sleep,
  sleep_ri_slope_correlated = sleep,
  pastes_three_level_unweighted = pastes
)
for (name in names(ml_cases)) {
  case <- read_case(name)
  data <- ml_cases[[name]]
  fit <- lmer(as.formula(case$call$formula), data = data, REML = FALSE)
  case$lme4_ml <- list(llf = as.numeric(logLik(fit)),
                       params = named_list(fixef(fit), data))
  write_case(case, name)
  cat(sprintf("%-32s lme4_ml llf %.15g\n", name, as.numeric(logLik(fit))))
}

# ---- expanded data: integer weights as repeated rows and schools ----------
# Every row repeated iw1 times; every school repeated iw2 times, each copy a
# new school (schoolid "s.k" for copy k).
expand <- function(data, w1 = "iw1", w2 = "iw2", group = "schoolid") {
  rows <- data[rep(seq_len(nrow(data)), data[[w1]]), , drop = FALSE]
  schools <- unique(rows[, c(group, w2)])
  copies <- do.call(rbind, lapply(seq_len(nrow(schools)), function(i) {
    s <- rows[rows[[group]] == schools[[group]][i], , drop = FALSE]
    k <- rep(seq_len(schools[[w2]][i]), each = nrow(s))
    s <- s[rep(seq_len(nrow(s)), schools[[w2]][i]), , drop = FALSE]
    s[[group]] <- paste(s[[group]], k, sep = ".")
    s
  }))
  copies[[group]] <- factor(copies[[group]])
  rownames(copies) <- NULL
  copies
}

expanded_case <- function(name, data_file, family, family_label) {
  case <- read_case(name)
  data <- read_ref(data_file)
  long <- expand(data)
  # bobyqa with maxfun = 1e5 is the control that reproduces the committed
  # values to the last digit (glmer's default nloptwrap differs by ~1e-5)
  fit <- glmer(as.formula(case$call$formula), data = long, family = family,
               nAGQ = case$call$n_quad,
               control = glmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5)))
  vc <- as.data.frame(VarCorr(fit))
  case$source <- sprintf(paste0("lme4 %s glmer(%snAGQ=%d) on the data with every row repeated ",
                                "w1 times and every group repeated w2 times (as new groups)"),
                         packageVersion("lme4"), family_label, case$call$n_quad)
  # lme4's Poisson logLik at nAGQ > 1 is off by a constant: no llf (see `note`)
  case$llf <- if (family$family == "poisson") NA else as.numeric(logLik(fit))
  case$params <- named_list(fixef(fit), data)
  case$var_components <- list(list(level = 2L, group = "schoolid", var1 = "Intercept",
                                   var2 = NA, variance = vc$vcov[1], std_error = NA))
  write_case(case, name)
  cat(sprintf("%-32s %d rows, llf %.15g\n", name, nrow(long), as.numeric(logLik(fit))))
}
expanded_case("pisa_s1i_binomial_expanded", "pisa_s1i.csv", binomial(), "")
expanded_case("pisa_s1i_probit_expanded", "pisa_s1i.csv", binomial(link = "probit"),
              "binomial, link=probit, ")
expanded_case("counts_s1i_poisson_expanded", "counts_s1i.csv", poisson(),
              "poisson, link=log, ")
cat("written to", out_dir, "\n")
