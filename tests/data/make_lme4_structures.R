# lme4 reference values for the random-effect structures and fixed-effect
# terms that tests/reference (the WeMix cases) does not cover: four levels, random slopes
# above level 2, correlated slopes at two levels, uncorrelated (||) terms,
# several terms on one grouping factor, the nested a/b/c form, categorical,
# bool, interaction, I() and log terms in the fixed part, no intercept.
#
# Data: tests/data/structures.csv (made by tests/data/make_structures_data.py).
# Run from the project root:  Rscript tests/data/make_lme4_structures.R
# Writes tests/data/lme4_structures.json. Needs R with lme4 and jsonlite.
#
# Every case is an ML fit (lmer(REML = FALSE)); it is fitted with two
# optimisers at tight tolerances (nloptwrap/BOBYQA with ftol_abs = 1e-12,
# xtol_abs = 1e-10, and minqa's bobyqa with rhoend = 1e-12) and the fit with
# the higher log-likelihood is kept. The script stops if neither converged
# (lme4's gradient check) or the two disagree by more than 1e-6 in the
# log-likelihood. Names are written as pywemix names them: "Intercept",
# "grp[T.b]" (or "grp[b]" when the factor is coded in full, without an
# intercept), "flag[T.True]", "x:z", "I(x ** 2)", "np.log(pos)"; random-effect
# groups without lme4's ".1" suffixes and parentheses
# ("school_in_district:district:region"), covariances (not correlations).
#
# Determinism: no random numbers are drawn, yet with address-space layout
# randomisation on, the deviance varies in its last bits from run to run
# (probably because the memory alignment of R's vectors changes the order of
# floating-point sums in lme4's vectorised Eigen code), and the optimum moves by
# ~1e-8 relative between runs. With randomisation off, repeated runs give a
# byte-identical JSON file, so the script re-runs itself under
# `setarch <arch> -R` (util-linux) when it can; the JSON records whether it did.
aslr_off <- function() {
  p <- tryCatch(readLines("/proc/self/personality", warn = FALSE), error = function(e) "")
  length(p) == 1 && nzchar(p) && bitwAnd(strtoi(p, 16L), 0x0040000L) != 0
}
if (!aslr_off() && nzchar(Sys.which("setarch")) && Sys.getenv("LME4_STRUCTURES_CHILD") == "") {
  script <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
  Sys.setenv(LME4_STRUCTURES_CHILD = "1")
  status <- system2("setarch", c(Sys.info()[["machine"]], "-R",
                                 shQuote(file.path(R.home("bin"), "Rscript")), shQuote(script)))
  quit(save = "no", status = status)
}
suppressMessages({
  library(lme4)
  library(jsonlite)
})

d <- read.csv(file.path("tests", "data", "structures.csv"), stringsAsFactors = FALSE)
d$grp <- factor(d$grp, levels = sort(unique(d$grp)))             # a, b, c: "a" is the reference
d$flag <- factor(as.character(d$flag), levels = c("False", "True"))  # False is the reference
stopifnot(!anyNA(d$flag))

# name, pywemix formula, lme4 formula
cases <- list(
  list("four_level_intercepts",
       "y ~ x + (1|school) + (1|district) + (1|region)",
       y ~ x + (1 | school) + (1 | district) + (1 | region)),
  list("slope_at_level3",
       "y ~ x + (1|school) + (1 + x|district) + (1|region)",
       y ~ x + (1 | school) + (1 + x | district) + (1 | region)),
  list("slope_only_at_level3",
       "y ~ x + (1|school) + (0 + x|district) + (1|region)",
       y ~ x + (1 | school) + (0 + x | district) + (1 | region)),
  list("correlated_slopes_two_levels",
       "y ~ x + ses_school + (x|school) + (x|district) + (1|region)",
       y ~ x + ses_school + (x | school) + (x | district) + (1 | region)),
  list("correlated_slopes_two_slopes",
       "y ~ x + z + (1 + x + z|school) + (1 + x|district)",
       y ~ x + z + (1 + x + z | school) + (1 + x | district)),
  list("uncorrelated_three_levels",
       "y ~ x + (x || school) + (1|district) + (1|region)",
       y ~ x + (x || school) + (1 | district) + (1 | region)),
  list("several_terms_one_factor",
       "y ~ x + z + (1|school) + (0 + x + z|school)",
       y ~ x + z + (1 | school) + (0 + x + z | school)),
  list("several_terms_one_factor_three_levels",
       "y ~ x + z + (1|school) + (0 + x|school) + (1|district) + (0 + z|district)",
       y ~ x + z + (1 | school) + (0 + x | school) + (1 | district) + (0 + z | district)),
  list("nested_form_four_levels",
       "y ~ x + (1|region/district/school_in_district)",
       y ~ x + (1 | region/district/school_in_district)),
  list("nested_form_with_slope",
       "y ~ x + (1|region/district/school_in_district) + (0 + x|region:district)",
       y ~ x + (1 | region/district/school_in_district) + (0 + x | region:district)),
  # the same model, the slope's factor spelled as lme4 names the nested one
  list("nested_form_with_slope_same_spelling",
       "y ~ x + (1|region/district/school_in_district) + (0 + x|district:region)",
       y ~ x + (1 | region/district/school_in_district) + (0 + x | district:region)),
  list("fixed_terms",
       "y ~ x*z + I(x**2) + grp + flag + np.log(pos) + ses_school + (1|school) + (1|district) + (1|region)",
       y ~ x * z + I(x^2) + grp + flag + log(pos) + ses_school + (1 | school) + (1 | district) + (1 | region)),
  list("factor_interaction",
       "y ~ x*grp + flag:z + (1|school) + (1|district)",
       y ~ x * grp + flag:z + (1 | school) + (1 | district)),
  list("no_intercept",
       "y ~ 0 + x + grp + (1|school) + (1|district)",
       y ~ 0 + x + grp + (1 | school) + (1 | district)),
  list("no_intercept_minus_one",
       "y ~ x + z - 1 + (1|school) + (1|district) + (1|region)",
       y ~ x + z - 1 + (1 | school) + (1 | district) + (1 | region))
)

factors <- c("grp", "flag")

# R's coefficient name -> pywemix's
py_name <- function(r, all_names) {
  if (r == "(Intercept)") return("Intercept")
  parts <- strsplit(r, ":", fixed = TRUE)[[1]]
  out <- parts
  for (k in seq_along(parts)) {
    p <- parts[k]
    if (p == "I(x^2)") out[k] <- "I(x ** 2)"
    if (p == "log(pos)") out[k] <- "np.log(pos)"
    for (f in factors) {
      levs <- levels(d[[f]])
      for (l in levs) {
        if (p == paste0(f, l)) {
          # coded in full (a column for every level, the rest of the term
          # the same) or by treatment contrasts
          variants <- vapply(levs, function(l2) {
            q <- parts
            q[k] <- paste0(f, l2)
            paste(q, collapse = ":")
          }, character(1))
          full <- all(variants %in% all_names)
          out[k] <- if (full) sprintf("%s[%s]", f, l) else sprintf("%s[T.%s]", f, l)
        }
      }
    }
  }
  paste(out, collapse = ":")
}

py_group <- function(g) sub("\\.[0-9]+$", "", gsub("[()]", "", g))
py_term <- function(v) sub("^\\(Intercept\\)$", "Intercept", v)

var_components <- function(m) {
  vc <- VarCorr(m)
  # VarCorr's names are mangled by make.names where a factor appears in two
  # terms ("district.region.1"); the terms' own grouping-factor names are not
  raw <- names(m@cnms)
  out <- list()
  for (k in seq_along(vc)) {
    g <- raw[[k]]
    S <- vc[[k]]
    nm <- py_term(rownames(S))
    for (i in seq_along(nm))
      out[[length(out) + 1]] <- list(group = py_group(g), lme4_group = g, var1 = nm[i],
                                     var2 = NA, variance = S[i, i])
    for (i in seq_along(nm)) for (j in seq_along(nm)) if (i < j)
      out[[length(out) + 1]] <- list(group = py_group(g), lme4_group = g, var1 = nm[i],
                                     var2 = nm[j], variance = S[i, j])
  }
  out[[length(out) + 1]] <- list(group = "Residual", lme4_group = "Residual", var1 = NA,
                                 var2 = NA, variance = sigma(m)^2)
  out
}

# lme4's convergence checks passed; a singular (boundary) fit counts as
# converged (lme4 then skips its gradient test), and is recorded as "singular"
converged <- function(m) {
  msg <- m@optinfo$conv$lme4$messages
  msg <- msg[!grepl("singular", msg)]
  m@optinfo$conv$opt == 0 && length(msg) == 0 && length(m@optinfo$warnings) == 0
}

fit <- function(formula) {
  ctrl_nl <- lmerControl(optimizer = "nloptwrap", calc.derivs = TRUE,
                         optCtrl = list(ftol_abs = 1e-12, xtol_abs = 1e-10, maxeval = 1e5))
  ctrl_bq <- lmerControl(optimizer = "bobyqa", calc.derivs = TRUE,
                         optCtrl = list(rhoend = 1e-12, maxfun = 1e5))
  fits <- list(nloptwrap = lmer(formula, data = d, REML = FALSE, control = ctrl_nl),
               bobyqa = lmer(formula, data = d, REML = FALSE, control = ctrl_bq))
  llf <- vapply(fits, function(m) as.numeric(logLik(m)), numeric(1))
  ok <- vapply(fits, converged, logical(1))
  if (!any(ok)) stop("no optimiser converged for ", deparse(formula))
  if (diff(range(llf)) > 1e-6) stop("optimisers disagree for ", deparse(formula), ": ",
                                    paste(format(llf, digits = 15), collapse = " vs "))
  best <- names(which.max(ifelse(ok, llf, -Inf)))
  list(model = fits[[best]], optimizer = best, llf_all = as.list(llf), converged_all = as.list(ok))
}

out <- list()
for (cs in cases) {
  name <- cs[[1]]
  f <- fit(cs[[3]])
  m <- f$model
  fe <- fixef(m)
  rn <- names(fe)
  pn <- vapply(rn, py_name, character(1), all_names = rn)
  se <- sqrt(diag(as.matrix(vcov(m))))
  names(fe) <- pn
  names(se) <- pn
  grad <- m@optinfo$derivs$gradient
  out[[name]] <- list(
    formula = cs[[2]],
    lme4_formula = paste(deparse(cs[[3]], width.cutoff = 500L), collapse = ""),
    nobs = nobs(m),
    ngroups = as.list(ngrps(m)),
    llf = as.numeric(logLik(m)),
    deviance = deviance(m),
    optimizer = f$optimizer,
    singular = isSingular(m, tol = 1e-4),
    llf_by_optimizer = f$llf_all,
    converged_by_optimizer = f$converged_all,
    max_abs_gradient = if (is.null(grad)) NA else max(abs(grad)),
    theta = unname(getME(m, "theta")),
    params = as.list(fe),
    lme4_param_names = as.list(setNames(rn, pn)),
    std_errors_model = as.list(se),
    var_components = var_components(m)
  )
}

res <- list(
  data = "structures.csv",
  source = sprintf("lme4 %s, Matrix %s on %s", packageVersion("lme4"),
                   packageVersion("Matrix"), R.version.string),
  address_randomisation_off = aslr_off(),
  method = "lmer(REML = FALSE); best of nloptwrap (ftol_abs = 1e-12, xtol_abs = 1e-10) and bobyqa (rhoend = 1e-12)",
  cases = out
)
writeLines(toJSON(res, auto_unbox = TRUE, digits = I(15), pretty = TRUE, na = "null"),
           file.path("tests", "data", "lme4_structures.json"))
