# lme4's theta (getME(m, "theta")) for random-effect blocks larger than 2x2,
# to check that pywemix's `theta` (and `start=`) use lme4's order: each
# block's lower-triangular Cholesky factor column by column ((1,1), (2,1),
# (3,1), (2,2), (3,2), (3,3)), blocks in the order lme4 lists them.
#
# Data: simulated here (R's default Mersenne-Twister, seed 20261201):
# 60 groups `g` of 15 rows, covariates x1, x2, x3 ~ N(0, 1), correlated
# random intercept and slopes (1, x1, x2), an independent slope on x3;
# a Gaussian response `y` (linear predictor eta) and a binary `pass`
# (logit 2 eta, so that the Laplace fit is not singular). Written to
# tests/data/theta.csv, unit weights `w1`, `w2`.
#
# Run from the project root:  Rscript tests/data/make_lme4_theta.R
# Writes tests/data/theta.csv and tests/data/lme4_theta.json (needs lme4 and
# jsonlite). Gaussian cases: lmer(REML = FALSE), bobyqa with
# rhoend = 1e-12. Binomial: glmer(nAGQ = 1) (Laplace; pywemix's n_quad = 1),
# bobyqa with rhoend = 1e-10 and tolPwrss = 1e-12.
suppressMessages({
  library(lme4)
  library(jsonlite)
})
set.seed(20261201)
G <- 60
m <- 15
g <- rep(seq_len(G), each = m)
n <- G * m
x1 <- rnorm(n); x2 <- rnorm(n); x3 <- rnorm(n)
S <- matrix(c(1.0, 0.4, -0.3,
              0.4, 0.6, 0.2,
              -0.3, 0.2, 0.5), 3, 3)
u <- matrix(rnorm(G * 3), G, 3) %*% chol(S)
u3 <- rnorm(G, sd = 0.5)
eta <- 0.5 + 0.3 * x1 - 0.2 * x2 + 0.1 * x3 +
  u[g, 1] + u[g, 2] * x1 + u[g, 3] * x2 + u3[g] * x3
d <- data.frame(g = sprintf("g%02d", g), x1 = x1, x2 = x2, x3 = x3,
                y = eta + rnorm(n, sd = 0.8),
                pass = rbinom(n, 1, plogis(2 * eta)), w1 = 1, w2 = 1)
write.csv(d, file.path("tests", "data", "theta.csv"), row.names = FALSE)

# name, pywemix formula, lme4 formula, family
cases <- list(
  list("correlated_3x3", "y ~ x1 + x2 + (1 + x1 + x2 | g)",
       y ~ x1 + x2 + (1 + x1 + x2 | g), "gaussian"),
  list("uncorrelated_3", "y ~ x1 + x2 + (1 + x1 + x2 || g)",
       y ~ x1 + x2 + (1 + x1 + x2 || g), "gaussian"),
  list("two_blocks_one_level", "y ~ x1 + x2 + x3 + (1 + x1 + x2 | g) + (0 + x3 | g)",
       y ~ x1 + x2 + x3 + (1 + x1 + x2 | g) + (0 + x3 | g), "gaussian"),
  list("two_blocks_one_level_scalar_first",
       "y ~ x1 + x2 + x3 + (0 + x3 | g) + (1 + x1 + x2 | g)",
       y ~ x1 + x2 + x3 + (0 + x3 | g) + (1 + x1 + x2 | g), "gaussian"),
  list("binomial_laplace_3x3", "pass ~ x1 + x2 + (1 + x1 + x2 | g)",
       pass ~ x1 + x2 + (1 + x1 + x2 | g), "binomial")
)

out <- list()
for (cs in cases) {
  if (cs[[4]] == "gaussian") {
    ctrl <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12, maxfun = 1e5))
    fit <- lmer(cs[[3]], data = d, REML = FALSE, control = ctrl)
  } else {
    ctrl <- glmerControl(optimizer = "bobyqa", tolPwrss = 1e-12,
                         optCtrl = list(rhoend = 1e-10, maxfun = 1e5))
    fit <- glmer(cs[[3]], data = d, family = binomial, nAGQ = 1, control = ctrl)
  }
  th <- getME(fit, "theta")
  out[[cs[[1]]]] <- list(
    formula = cs[[2]],
    lme4_formula = paste(deparse(cs[[3]], width.cutoff = 500L), collapse = ""),
    family = cs[[4]],
    n_quad = if (cs[[4]] == "gaussian") NA else 1L,
    llf = as.numeric(logLik(fit)),
    singular = isSingular(fit, tol = 1e-4),
    theta = unname(th),
    theta_names = names(th),
    params = as.list(setNames(fixef(fit), sub("^\\(Intercept\\)$", "Intercept", names(fixef(fit)))))
  )
}
res <- list(
  data = "theta.csv",
  source = sprintf("lme4 %s, Matrix %s on %s", packageVersion("lme4"),
                   packageVersion("Matrix"), R.version.string),
  cases = out
)
writeLines(toJSON(res, auto_unbox = TRUE, digits = I(15), pretty = TRUE, na = "null"),
           file.path("tests", "data", "lme4_theta.json"))
