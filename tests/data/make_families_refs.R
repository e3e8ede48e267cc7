# glmmTMB (nbinom2, Gamma), ordinal::clmm and glmer (cbind binomial) fits of
# tests/data/families.csv, for tests/test_reference_families.py. Run from the
# project root:
#   setarch -R Rscript tests/data/make_families_refs.R
# Writes tests/data/families_refs.json. Needs R with glmmTMB, ordinal, lme4 and
# jsonlite (Debian: r-cran-glmmtmb, r-cran-ordinal, r-cran-lme4, r-cran-jsonlite).
# Tolerances are tightened where the defaults stop short: clmm's inner and
# outer searches (gradTol 1e-9, nlminb rel.tol 1e-14), glmer's PIRLS (tolPwrss
# 1e-13) and bobyqa (rhoend 1e-10). glmmTMB's defaults already reach the
# optimum to 12 digits (tighter nlminb tolerances give the same estimates with
# a "singular convergence" code).
suppressMessages({library(glmmTMB); library(ordinal); library(lme4); library(jsonlite)})
d <- read.csv(file.path("tests", "data", "families.csv"))
d$school <- factor(d$school)
d$district <- factor(d$district)
d$ord <- factor(d$ord, ordered = TRUE)
d$ordp <- factor(d$ordp, ordered = TRUE)

fe_names <- function(v) {
  names(v)[names(v) == "(Intercept)"] <- "Intercept"
  as.list(v)
}
covs <- function(vc) lapply(vc, function(m) {
  m <- as.matrix(m)
  list(names = sub("\\(Intercept\\)", "Intercept", rownames(m)), cov = unname(m))
})
timed <- function(expr) {
  t0 <- proc.time()[["elapsed"]]
  m <- expr
  list(m = m, seconds = proc.time()[["elapsed"]] - t0)
}

tmb <- function(formula, family, start = NULL) {
  r <- timed(glmmTMB(formula, data = d, family = family, start = start))
  m <- r$m
  disp <- if (family$family == "Gamma") sigma(m)^2 else sigma(m)
  list(package = "glmmTMB", call = paste(deparse(formula, width.cutoff = 500), collapse = ""),
       family = family$family, link = family$link, n_quad = 1,
       llf = as.numeric(logLik(m)), params = fe_names(fixef(m)$cond),
       family_params = list(dispersion = disp), covariances = covs(VarCorr(m)$cond),
       bse_model = fe_names(sqrt(diag(vcov(m)$cond))), seconds = r$seconds,
       converged = m$fit$convergence == 0 && m$sdr$pdHess)
}

clmm_ctrl <- clmm.control(gradTol = 1e-9, rel.tol = 1e-14, eval.max = 1e4, iter.max = 1e4,
                          innerCtrl = "noWarn")
ord <- function(formula, link, nAGQ = 1) {
  r <- timed(clmm(formula, data = d, link = link, nAGQ = nAGQ, control = clmm_ctrl))
  m <- r$m
  th <- m$alpha
  beta <- m$beta
  list(package = "ordinal", call = paste(deparse(formula, width.cutoff = 500), collapse = ""),
       family = "ordinal", link = link, n_quad = nAGQ,
       llf = as.numeric(logLik(m)), params = as.list(beta), family_params = as.list(th),
       covariances = covs(lapply(VarCorr(m), function(v) v)),
       bse_model = as.list(sqrt(diag(vcov(m)))[c(names(th), names(beta))]),
       seconds = r$seconds, converged = m$optRes$convergence == 0)
}

glmer_ctrl <- glmerControl(optimizer = "bobyqa", tolPwrss = 1e-13,
                           optCtrl = list(maxfun = 1e5, rhoend = 1e-10))
bin <- function(formula, link, nAGQ = 1) {
  r <- timed(glmer(formula, data = d, family = binomial(link), nAGQ = nAGQ,
                   control = glmer_ctrl))
  m <- r$m
  list(package = "lme4", call = paste(deparse(formula, width.cutoff = 500), collapse = ""),
       family = "binomial", link = link, n_quad = nAGQ,
       llf = as.numeric(logLik(m)), params = fe_names(fixef(m)), family_params = list(),
       covariances = covs(lapply(VarCorr(m), function(v) v)),
       bse_model = fe_names(sqrt(diag(as.matrix(vcov(m))))), seconds = r$seconds,
       converged = length(m@optinfo$conv$lme4) == 0)
}

cases <- list(
  nb_offset = tmb(nb ~ x + sex + offset(logexpo) + (1 | school), nbinom2()),
  nb_three = tmb(nb ~ x + offset(logexpo) + (1 | school) + (1 | district), nbinom2()),
  nb_slope = tmb(nb ~ x + offset(logexpo) + (1 + x | school), nbinom2()),
  gamma_log = tmb(gam ~ x + sex + (1 | school), Gamma(link = "log")),
  gamma_log_three = tmb(gam ~ x + (1 | school) + (1 | district), Gamma(link = "log")),
  # the inverse link needs a start with positive means (beta = 0 is not one)
  gamma_inverse = tmb(gam ~ x + (1 | school), Gamma(link = "inverse"),
                      start = list(beta = c(1 / mean(d$gam), 0))),
  ordinal_logit = ord(ord ~ x + sex + (1 | school), "logit"),
  ordinal_logit_agq = ord(ord ~ x + sex + (1 | school), "logit", 7),
  ordinal_probit = ord(ordp ~ x + sex + (1 | school), "probit"),
  ordinal_probit_agq = ord(ordp ~ x + sex + (1 | school), "probit", 7),
  ordinal_three = ord(ord ~ x + (1 | school) + (1 | district), "logit"),
  trials_logit = bin(cbind(succ, fail) ~ x + sex + (1 | school), "logit"),
  trials_logit_agq = bin(cbind(succ, fail) ~ x + sex + (1 | school), "logit", 7),
  trials_probit = bin(cbind(succ, fail) ~ x + sex + (1 | school), "probit"),
  trials_probit_agq = bin(cbind(succ, fail) ~ x + sex + (1 | school), "probit", 7),
  trials_three = bin(cbind(succ, fail) ~ x + (1 | school) + (1 | district), "logit")
)

# glmer's Gamma is not maximum likelihood in the dispersion (lme4 puts the
# deviance over n in the family's log density and scales the random effects
# by sigma): kept for the record, not compared.
gm <- glmer(gam ~ x + sex + (1 | school), data = d, family = Gamma(link = "log"),
            control = glmer_ctrl)
glmer_gamma <- list(package = "lme4", llf = as.numeric(logLik(gm)),
                    params = fe_names(fixef(gm)), sigma = sigma(gm),
                    covariances = covs(lapply(VarCorr(gm), function(v) v)))

out <- list(cases = cases, glmer_gamma = glmer_gamma,
            source = sprintf("glmmTMB %s, ordinal %s, lme4 %s, TMB %s on %s",
                             packageVersion("glmmTMB"), packageVersion("ordinal"),
                             packageVersion("lme4"), packageVersion("TMB"), R.version.string))
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE),
           file.path("tests", "data", "families_refs.json"))
