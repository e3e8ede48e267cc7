# lmer / glmer maxima of the seeded random models of make_optimum_cases.py,
# for tests/estimation/test_certificate.py and benchmarks/optimum_sweep.py.
#
# Run from the project root (after python tests/data/make_optimum_cases.py):
#   setarch -R Rscript tests/data/make_lme4_optimum.R [cases.csv specs.json out.json]
# Defaults: tests/data/optimum_cases.csv, optimum_cases.json -> lme4_optimum.json.
# Needs R with lme4 and jsonlite.
#
# Gaussian models: lmer(REML = FALSE) with nloptwrap and bobyqa at tight
# tolerances; GLMMs: glmer(nAGQ = n_quad, 1 = Laplace) with tolPwrss = 1e-13 (glmer's default
# PIRLS tolerance stops up to 1e-3 below its own Laplace maximum) and the
# same two optimisers. The higher log-likelihood is kept (and both recorded).
suppressMessages({
  library(lme4)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
if (length(args) == 0) {
  args <- file.path("tests", "data", c("optimum_cases.csv", "optimum_cases.json",
                                       "lme4_optimum.json"))
}
all_data <- read.csv(args[1], stringsAsFactors = FALSE)
specs <- fromJSON(args[2], simplifyDataFrame = FALSE)

fit_one <- function(spec) {
  d <- all_data[all_data$case == spec$case, ]
  d$lg <- as.logical(d$lg)
  d$f <- factor(d$f)
  d$g <- factor(d$g)
  d$d <- factor(d$d)
  form <- as.formula(spec$formula)
  fits <- list()
  if (spec$family == "gaussian") {
    ctrl <- list(
      nloptwrap = lmerControl(optimizer = "nloptwrap", calc.derivs = FALSE,
                              optCtrl = list(ftol_abs = 1e-14, xtol_abs = 1e-12, maxeval = 1e5)),
      bobyqa = lmerControl(optimizer = "bobyqa", calc.derivs = FALSE,
                           optCtrl = list(rhoend = 1e-12, maxfun = 1e5)))
    for (nm in names(ctrl)) fits[[nm]] <- tryCatch(
      suppressWarnings(suppressMessages(lmer(form, data = d, REML = FALSE, control = ctrl[[nm]]))),
      error = function(e) NULL)
  } else {
    fam <- if (spec$family == "binomial") binomial() else poisson()
    ctrl <- list(
      nloptwrap = glmerControl(optimizer = "nloptwrap", calc.derivs = FALSE, tolPwrss = 1e-13,
                               optCtrl = list(ftol_abs = 1e-14, xtol_abs = 1e-12, maxeval = 1e5)),
      bobyqa = glmerControl(optimizer = "bobyqa", calc.derivs = FALSE, tolPwrss = 1e-13,
                            optCtrl = list(rhoend = 1e-12, maxfun = 1e5)))
    for (nm in names(ctrl)) fits[[nm]] <- tryCatch(
      suppressWarnings(suppressMessages(glmer(form, data = d, family = fam, nAGQ = spec$n_quad,
                                              control = ctrl[[nm]]))),
      error = function(e) NULL)
  }
  fits <- Filter(Negate(is.null), fits)
  llf <- vapply(fits, function(m) as.numeric(logLik(m)), numeric(1))
  best <- fits[[which.max(llf)]]
  list(case = spec$case, kind = spec$kind, formula = spec$formula, family = spec$family,
       n_quad = spec$n_quad,
       nobs = nobs(best), llf = max(llf), optimizer = names(which.max(llf)),
       llf_all = as.list(llf), theta = unname(getME(best, "theta")),
       fixef = unname(fixef(best)))
}

out <- list(source = sprintf("lme4 %s, %s", packageVersion("lme4"), R.version.string),
            cases = lapply(specs, fit_one))
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), args[3])
