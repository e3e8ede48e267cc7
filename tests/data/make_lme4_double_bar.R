# lme4 reference values for uncorrelated random terms `(expr || g)` whose
# expression holds a factor, a logical column or a logical expression, and a
# numeric one. lme4 (expandDoubleVerts) expands `(f || g)` to
# `(1 | g) + (0 + f | g)`: one column per level of f, correlated within that
# term; a logical is a factor with levels FALSE, TRUE.
#
# Data: tests/data/structures.csv (made by tests/data/make_structures_data.py).
# Run from the project root:  Rscript tests/data/make_lme4_double_bar.R
# Writes tests/data/lme4_double_bar.json. Needs R with lme4 and jsonlite.
#
# Every case is an ML fit (lmer(REML = FALSE)) with two optimisers at tight
# tolerances (nloptwrap and bobyqa); the higher log-likelihood is kept. With
# an intercept beside a term coded in full, the intercept's variance and the
# term's covariance are not separately identified (adding a constant to every
# entry of the term's covariance and subtracting it from the intercept's
# variance leaves the model unchanged), so besides the log-likelihood and the
# fixed effects the file holds identified quantities: the variance
# z_i' Sigma z_i of the random part of each of the first 60 rows, and the
# random-effect names of every term, as pywemix names them ("grp[a]",
# "flag[True]", "I(x > 0)[False]", "Intercept").
suppressMessages({
  library(lme4)
  library(jsonlite)
})

d <- read.csv(file.path("tests", "data", "structures.csv"), stringsAsFactors = FALSE)
d$grp <- factor(d$grp, levels = sort(unique(d$grp)))
d$flag <- as.logical(d$flag)
stopifnot(!anyNA(d$flag))
n_rows <- 60L

cases <- list(
  list("factor", "y ~ x + (grp || district)", y ~ x + (grp || district)),
  list("logical_column", "y ~ x + (flag || district)", y ~ x + (flag || district)),
  list("logical_expression", "y ~ x + (I(x > 0) || district)", y ~ x + (I(x > 0) || district)),
  list("numeric", "y ~ x + (x || district)", y ~ x + (x || district)),
  list("numeric_and_factor_two_levels", "y ~ x + (1|school) + (x + grp || district)",
       y ~ x + (1 | school) + (x + grp || district))
)

# R's random-effect column name -> pywemix's
py_name <- function(r) {
  if (r == "(Intercept)") return("Intercept")
  for (f in c("grp", "flag", "I(x > 0)")) {
    if (startsWith(r, f) && nchar(r) > nchar(f)) {
      lev <- substring(r, nchar(f) + 1)
      lev <- switch(lev, "TRUE" = "True", "FALSE" = "False", lev)
      return(sprintf("%s[%s]", f, lev))
    }
  }
  r
}

fit <- function(formula) {
  ctrl_nl <- lmerControl(optimizer = "nloptwrap", calc.derivs = FALSE,
                         optCtrl = list(ftol_abs = 1e-12, xtol_abs = 1e-10, maxeval = 1e5))
  ctrl_bq <- lmerControl(optimizer = "bobyqa", calc.derivs = FALSE,
                         optCtrl = list(rhoend = 1e-12, maxfun = 1e5))
  fits <- list(nloptwrap = lmer(formula, data = d, REML = FALSE, control = ctrl_nl),
               bobyqa = lmer(formula, data = d, REML = FALSE, control = ctrl_bq))
  llf <- vapply(fits, function(m) as.numeric(logLik(m)), numeric(1))
  list(model = fits[[which.max(llf)]], optimizer = names(which.max(llf)),
       llf_all = as.list(llf))
}

# variance of the random part of each row: sum over terms of z_i' Sigma_t z_i
row_variances <- function(m) {
  Z <- t(as.matrix(getME(m, "Zt")))          # rows x all effects, in lme4's order
  Lambda <- as.matrix(getME(m, "Lambda"))
  V <- sigma(m)^2 * Lambda %*% t(Lambda)
  rowSums((Z[seq_len(n_rows), , drop = FALSE] %*% V) * Z[seq_len(n_rows), , drop = FALSE])
}

out <- list()
for (cs in cases) {
  f <- fit(cs[[3]])
  m <- f$model
  fe <- fixef(m)
  names(fe) <- sub("^\\(Intercept\\)$", "Intercept", names(fe))
  terms <- lapply(seq_along(m@cnms), function(k)
    list(group = names(m@cnms)[k], names = I(vapply(m@cnms[[k]], py_name, character(1),
                                                    USE.NAMES = FALSE))))
  out[[cs[[1]]]] <- list(
    formula = cs[[2]],
    lme4_formula = paste(deparse(cs[[3]], width.cutoff = 500L), collapse = ""),
    nobs = nobs(m),
    llf = as.numeric(logLik(m)),
    optimizer = f$optimizer,
    llf_all = f$llf_all,
    params = as.list(fe),
    std_errors_model = as.list(setNames(sqrt(diag(as.matrix(vcov(m)))), names(fe))),
    sigma2 = sigma(m)^2,
    random_terms = terms,
    row_variances = unname(row_variances(m))
  )
}

res <- list(
  source = sprintf("lme4 %s, R %s", packageVersion("lme4"), getRversion()),
  data = "structures.csv",
  n_rows = n_rows,
  cases = out
)
writeLines(toJSON(res, auto_unbox = TRUE, digits = NA, pretty = TRUE),
           file.path("tests", "data", "lme4_double_bar.json"))
