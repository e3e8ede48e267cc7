# Times glmmTMB, ordinal::clmm and lme4::glmer on the models of
# benchmarks/bench_families.py (the same data and formula as pywemix, unit
# weights); prints one line "CASE best median llf" (seconds; the fit's
# log-likelihood, to check that both sides fit the same model) per case.
# Usage: Rscript families.R DATA.csv REPEATS
args <- commandArgs(trailingOnly = TRUE)
suppressMessages({library(glmmTMB); library(ordinal); library(lme4)})
d <- read.csv(args[1])
d$school <- factor(d$school)
d$district <- factor(d$district)
d$ord <- factor(d$ord, ordered = TRUE)
d$ordp <- factor(d$ordp, ordered = TRUE)
reps <- as.integer(args[2])
inv_start <- list(beta = c(1 / mean(d$gami), 0, 0))

cases <- list(
  nb_glmmTMB = function() glmmTMB(nb ~ x + sex + offset(logexpo) + (1 | school), data = d,
                                  family = nbinom2()),
  nb_three_glmmTMB = function() glmmTMB(nb ~ x + (1 | school) + (1 | district), data = d,
                                        family = nbinom2()),
  gamma_log_glmmTMB = function() glmmTMB(gam ~ x + sex + (1 | school), data = d,
                                         family = Gamma(link = "log")),
  gamma_inverse_glmmTMB = function() glmmTMB(gami ~ x + sex + (1 | school), data = d,
                                             family = Gamma(link = "inverse"),
                                             start = inv_start),
  ordinal_logit_clmm = function() clmm(ord ~ x + sex + (1 | school), data = d,
                                       link = "logit"),
  ordinal_probit_clmm = function() clmm(ordp ~ x + sex + (1 | school), data = d,
                                        link = "probit"),
  ordinal_logit_agq_clmm = function() clmm(ord ~ x + sex + (1 | school), data = d,
                                           link = "logit", nAGQ = 7),
  trials_logit_glmmTMB = function() glmmTMB(cbind(succ, fail) ~ x + sex + (1 | school),
                                            data = d, family = binomial()),
  trials_logit_glmer = function() glmer(cbind(succ, fail) ~ x + sex + (1 | school),
                                        data = d, family = binomial()),
  # a non-canonical link: glmer's Laplace approximation (lme4's GLM working
  # weights in the curvature), which pywemix follows; glmmTMB's uses the
  # observed curvature and is a different approximation
  trials_probit_glmer = function() glmer(cbind(succ, fail) ~ x + sex + (1 | school),
                                         data = d, family = binomial("probit"))
)
for (name in names(cases)) {
  times <- numeric(reps)
  for (i in seq_len(reps)) times[i] <- system.time(m <- cases[[name]]())[["elapsed"]]
  cat(sprintf("%s %.6f %.6f %.10f\n", name, min(times), median(times), logLik(m)))
}
